"""Findings as codes and values (issue 22): analysis and measurement return a code with raw values,
and toolkit.present.findings is the one place that writes them as sentences, in both languages,
every number through the one Formatter."""

from __future__ import annotations

import pickle
import re
import subprocess
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

from toolkit.base.findings import Finding  # noqa: E402
from toolkit.base.vocabulary import PROBLEMS, Reason  # noqa: E402
from toolkit.present.findings import FINDING_WORDS, finding_codes, render, show, write  # noqa: E402
from toolkit.present.format import formatter  # noqa: E402
from toolkit.present.problems import PROBLEM_WORDS  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

# One hand-made example per finding code (several for a code whose sentence has cases). A new
# code without an example fails test_every_finding_code_has_an_example.
EXAMPLES: list[tuple[str, dict]] = [
    ("seasonality", {"case": "few_mature_months", "mature_months": 4}),
    ("seasonality", {"case": "short_history", "months": 1}),
    ("seasonality", {"case": "short_history", "months": 7}),
    ("seasonality", {"case": "few_per_month", "mean_entries": 3.44}),
    ("seasonality", {"case": "rate_unjudged", "seasonal_volume": True, "cv_volume": 0.31,
                     "p_volume": 0.0004}),
    ("seasonality", {"case": "rate_unjudged", "seasonal_volume": False}),
    ("seasonality", {"case": "volume_only", "seasonal_volume": True, "cv_volume": 0.2,
                     "p_volume": 1e-73, "cv_rate": 0.12, "p_rate": 0.7543}),
    ("seasonality", {"case": "rate", "p_rate": 0.0123}),
    ("seasonality", {"case": "none"}),
    ("audit", {"n_records": 12000, "checks": [("regressions", 17, 17 / 12000),
                                              ("skipped_phases", 209, 209 / 12000)],
               "history_known": True}),
    ("audit", {"n_records": 1, "checks": [], "history_known": False}),
    ("kpi_change", {"kpi": "Conversion lead → opportunity", "previous": 0.41, "current": 0.33,
                    "is_rate": True, "higher_is_better": True, "p_value": 0.0093}),
    ("kpi_change", {"kpi": "Order value", "previous": 12500.0, "current": 15000.0,
                    "is_rate": False, "higher_is_better": True, "p_value": 1e-9}),
    ("change_raised", {"from_phase": "lead", "to_phase": "opportunity", "method": "did",
                       "control": "region = 'north'", "mix": "", "estimate": 0.094,
                       "ci_low": 0.076, "ci_high": 0.112, "p_value": 3e-25}),
    ("change_lowered", {"from_phase": "lead", "to_phase": "opportunity",
                        "method": "standardised", "control": "", "mix": "region",
                        "estimate": -0.05, "ci_low": -0.08, "ci_high": -0.02, "p_value": 0.0012}),
    ("change_none", {"from_phase": "lead", "to_phase": "opportunity", "method": "before_after",
                     "control": "", "mix": "", "estimate": -0.007, "ci_low": -0.026,
                     "ci_high": 0.012, "p_value": 0.466, "mde": 0.0273}),
    ("change_mix_moved", {"shifted": [("region", 0.21, 0.0004), ("product", 0.05, 0.031)]}),
    ("change_reads_trend", {"p_value": 0.004}),
    ("change_reads_before_after", {"p_value": 0.61}),
    ("what_if", {"scenario": "conversion_lead_opportunity 40.0%", "period": "month",
                 "confidence": 0.9, "orders": 11.62, "ci_low": 9.1, "ci_high": 14.3,
                 "baseline": 6.8, "change": 4.82, "change_ci_low": 2.3, "change_ci_high": 7.5}),
    ("experiment_size", {"baseline_rate": 0.236, "target_rate": 0.286, "uplift": 0.05,
                         "power": 0.8, "alpha": 0.05, "records_control": 1203,
                         "records_treatment": 1203, "total_records": 2406,
                         "entries_per_week": 52.4, "weeks_to_enrol": 45.9, "window_days": 90,
                         "wait_weeks": 12.9, "weeks_until_readable": 58.8}),
    ("experiment_size", {"baseline_rate": 0.236, "target_rate": 0.286, "uplift": 0.05,
                         "power": 0.8, "alpha": 0.01, "records_control": 1203,
                         "records_treatment": 1203, "total_records": 2406,
                         "entries_per_week": None}),
    ("share", {"share": 0.4}),
    ("kpi_tree_root", {"label": "Revenue per month (implied)", "value": 116990.4,
                       "target": 125000.0, "gap": 116990.4 / 125000 - 1}),
    ("kpi_tree_root_no_target", {"label": "Orders per month", "value": 1234.5}),
    ("raising_bottleneck", {"from_phase": "opportunity", "to_phase": "proposal", "rate": 0.236,
                            "reference_rate": 0.4, "baseline": 6.81, "scenario": 11.62,
                            "period": "month"}),
    ("funnel_headline", {"entered": 12000, "orders": 242, "from_phase": "opportunity",
                         "to_phase": "proposal", "rate": 0.2512}),
    ("mix_decomposition", {"from_phase": "opportunity", "to_phase": "proposal",
                           "by_creation": False, "word": "fell", "rate_a": 0.261,
                           "rate_b": 0.236, "period_a": "2024", "period_b": "2025",
                           "total": -0.025, "rate_effect": -0.031, "mix_effect": 0.006}),
    ("simpsons_paradox", {"from_phase": "opportunity", "to_phase": "proposal",
                          "by_creation": True, "word": "fell", "rate_a": 0.2362,
                          "rate_b": 0.2358, "period_a": "2024", "period_b": "2025",
                          "total": -0.0004, "rate_effect": 0.0002, "mix_effect": -0.0004,
                          "attribute": "action", "share": 0.647, "direction": "better",
                          "segment": "event", "share_a": 0.461, "share_b": 0.246}),
    ("median_unreachable", {"lost": 0.62, "converted": 0.21, "open": 0.17}),
    ("median_not_reached", {"converted": 0.4, "day": 180.0, "open": 0.35}),
    ("diagnosis_verdict", {"case": "insufficient data", "first_n": 12,
                           "step": "lead -> opportunity", "min_n": 30}),
    ("diagnosis_verdict", {"case": "insufficient data", "small": ["a -> b"], "count": 1,
                           "min_n": 30}),
    ("diagnosis_verdict", {"case": "one transition", "step": "a -> b", "rate": 0.2,
                           "reference": "target", "reference_rate": 0.4,
                           "volume": {"leads": 12.34, "phase": "a", "need_now": 20.0,
                                      "goal": 3.0}}),
    ("diagnosis_verdict", {"case": "one transition", "step": "a -> b", "volume": None}),
    ("diagnosis_verdict", {"case": "leak", "volume": None, "first": [
        ("b", "c", 0.236, 0.4, "benchmark", 0.218, 0.254)]}),
    ("diagnosis_verdict", {"case": "shortage", "both": True, "volume": None, "first": [
        ("a", "b", 0.361, 0.4, "history", 0.353, 0.371)], "also": [
        ("b", "c", 0.236, 0.4, "target", 0.218, 0.254)]}),
    ("diagnosis_verdict", {"case": "shortage", "first": [], "volume": {
        "leads": 125.6, "phase": "lead", "need_now": 186.4, "goal": 12.0}}),
    ("diagnosis_verdict", {"case": "no clear low-hanging fruit", "volume": None,
                           "missing": ["target", "benchmark", "volume", "history"]}),
    ("leak_detail", {"total_lost": 0, "min_moves": 10, "quantile": 90, "stalled": None}),
    ("leak_detail", {"total_lost": 8, "min_moves": 10, "quantile": 90, "stalled": 3,
                     "tied": ["lead", "opportunity"], "each": 2}),
    ("leak_detail", {"total_lost": 1400, "min_moves": 10, "quantile": 90, "stalled": 1204,
                     "phase": "opportunity", "lost": 1000, "n": 2400, "rate": 0.4167,
                     "median_days": 23.6, "share": 0.714}),
    ("leak_detail", {"total_lost": 7, "min_moves": 10, "quantile": 90, "stalled": 0,
                     "phase": "opportunity", "lost": 2, "n": 9, "rate": 0.222,
                     "median_days": 11.0, "share": 0.2857}),
    # issue 22 (prose3): the notes of a change evaluation, a what-if, the mix and leak details,
    # step 5's evidence, today's orders and the period report's headline
    ("change_overdispersed", {"what": "its", "dispersion": 1.734}),
    ("change_its_skipped", {"n_before": 2, "n_after": 1}),
    ("change_its_seasonal", {"period": "month", "span": 30}),
    ("change_its_no_season", {}),
    ("change_did_skipped", {"missing": [("control", "before"), ("treated", "after")]}),
    ("change_attribute_missing", {"n": 12, "attribute": "region"}),
    ("change_immature", {"n": 310, "phase": "lead", "window": 90}),
    ("change_straddling", {"n": 1204}),
    ("change_same_seasons", {"period": "month", "seasons": [3, 4, 5]}),
    ("change_seasons_unmatched", {"period": "quarter"}),
    ("change_note_before_after", {"x_after": 1210, "n_after": 4000, "x_before": 980,
                                  "n_before": 3900, "test": "score"}),
    ("change_note_its_level", {}),
    ("change_note_its_slope", {"period": "month"}),
    ("change_note_did", {"control_before": 1500, "control_after": 1320}),
    ("change_note_standardised", {"names": ["region", "action"], "cells": 12, "left_out": 3}),
    ("change_note_standardised", {"names": ["region"], "cells": 1, "left_out": 0}),
    ("what_if_entries", {"entries": 4230, "months": 12, "first": "2025-11", "last": "2026-10"}),
    ("what_if_rate", {"window_days": 90, "immature": 1204, "multiplier": 1.0, "phase": "b"}),
    ("what_if_rate", {"window_days": 90, "immature": 0, "multiplier": 1.5, "phase": "proposal"}),
    ("what_if_value", {}),
    ("mix_no_stratified_test", {"error": "every stratum holds one period"}),
    ("mix_immature", {"window": 90, "n_a": 12, "period_a": "2025", "n_b": 1204,
                      "period_b": "2026"}),
    ("leak_unplaced", {"count": 1}),
    ("leak_unplaced", {"count": 247}),
    ("leak_no_threshold", {"phases": "proposal, order", "min_moves": 10}),
    ("verdict_test_note", {"detail": Finding("verdict_detail_target", {
        "from_phase": "lead", "to_phase": "opportunity"}), "p_value": 0.00012,
        "p_adjusted": 0.0371}),
    ("verdict_detail_target", {"from_phase": "lead", "to_phase": "opportunity"}),
    ("verdict_detail_benchmark", {"typical": 0.4, "low": 0.3, "high": 0.5, "source": "Gartner"}),
    ("verdict_detail_history", {"n_recent": 1204, "n_before": 3400}),
    ("verdict_detail_history_few", {"min_n": 30}),
    ("verdict_volume_note", {"goal": 12.0, "need_now": 186.4, "need_ref": 140.2, "ci_low": 118.3,
                             "ci_high": 133.1}),
    ("fruit_today", {"orders": 10.0, "horizon": "year", "revenue": 20000.0,
                     "avg_value": 2000.0}),
    ("fruit_today", {"orders": 6.8, "horizon": "month", "revenue_target": 1_500_000.0,
                     "revenue_per_year": float("nan")}),
    ("period_on_target", {"period": "2026-07", "on": 1, "n": 3, "off": [], "off_kpis": []}),
    ("period_on_target", {"period": "2026-07", "on": 2, "n": 4, "off": ["Win rate"],
                          "off_kpis": ["win_rate"]}),
    ("period_quiet", {"count": 1, "others": True}),
    ("period_quiet", {"count": 5, "others": False}),
    ("period_alert", {"severity": "medium", "kpi": "Win rate",
                      "description": "8 or more points in a row below the center line"}),
    ("period_nothing", {"period": "2026-07"}),
]

# Every value a problem sentence may name (toolkit.present.problems.problem_text), hand-made.
PROBLEM_VALUES = {
    "why": Reason.of("no_mature_month"), "date": pd.Timestamp("2026-03-05"),
    "as_of": pd.Timestamp("2026-10-31"), "description": "call within a day",
    "from_phase": "lead", "to_phase": "opportunity", "window_days": 90, "kpi": "conversion_x",
    "n": 30, "count": 3, "attribute": "owner", "rows": "lead → order", "share": 0.9,
    "others": 0.02, "lost_share": 0.95, "won_share": 0.1, "outcome": "won",
    "period": "2026-07", "last": "2026-05", "segments": "Noord, Zuid",
    "reasons": [Reason.of("change_no_records", {"date": pd.Timestamp("2026-03-05"),
                                                "description": "x", "from_phase": "lead",
                                                "to_phase": "opportunity"})],
}

def example(code: str, k: int = 0) -> dict:
    """The `k`-th example of `code`."""
    return [values for c, values in EXAMPLES if c == code][k]


_PLACEHOLDER = re.compile(r"\{[a-z_]*\}")


def _written(text: str) -> None:
    """A finished sentence: no placeholder left, no Python number or missing value spelled out."""
    assert text.strip(), text
    assert not _PLACEHOLDER.search(text), text
    assert not re.search(r"\bnan\b|\bNone\b|e-\d\d|\d\.\d{4,}", text), text


def test_every_finding_code_has_an_example():
    assert {code for code, _ in EXAMPLES} == set(finding_codes())


@pytest.mark.parametrize(("code", "values"), EXAMPLES,
                         ids=[f"{c}-{i}" for i, (c, _) in enumerate(EXAMPLES)])
def test_every_finding_code_is_written_in_both_languages(code, values):
    english, dutch = write(code, values, "en"), write(code, values, "nl")
    _written(english)
    _written(dutch)
    # the Finding's own str is its English sentence, and render writes it in either language
    finding = Finding(code, values)
    assert str(finding) == english == render(finding, "en")
    assert render(finding, "nl") == dutch
    # numbers through the one formatter: each value of a declared kind appears as it writes it
    for language, text in (("en", english), ("nl", dutch)):
        fmt = formatter(language)
        for name, kind in (FINDING_WORDS[code].kinds.items() if code in FINDING_WORDS else ()):
            assert show(kind, values[name], fmt) in text, (name, text)
    if code != "share":  # a bare percentage reads alike
        assert dutch != english


@pytest.mark.parametrize("code", sorted(PROBLEMS))
def test_every_problem_code_is_written_in_both_languages(code):
    reason = Reason.of(code, PROBLEM_VALUES)
    english, dutch = render(reason, "en"), render(reason, "nl")
    _written(english)
    _written(dutch)
    assert str(reason) == english
    if code in PROBLEM_WORDS or code == "changes_not_evaluated":
        assert dutch != english


def test_the_sentences_hand_checked():
    # worked out by hand from the values: shares with no decimal where the sentence says so,
    # one p-value phrase, thousands separators, no minus zero
    assert write("kpi_change", example("kpi_change"), "en") == (
        "Conversion lead → opportunity fell from 41% to 33% (significant, p = 0.009; worse).")
    assert write("kpi_change", example("kpi_change", 1), "nl").startswith(
        "Order value steeg van 12.500 naar 15.000 (significant, p < 0,001; ")
    assert write("seasonality", example("seasonality", 6), "en") == (
        "Volume is seasonal (month-to-month variation 20%, p < 0.001) but the conversion rate is "
        "not (variation 12%, p = 0.754): steer on percentages.")
    assert write("audit", example("audit"), "en") == (
        "Audit of 12,000 records: 17 moves back to an earlier phase (0.1%); 209 skipped phases "
        "(2%).")
    assert write("audit", example("audit", 1), "en").startswith("Audit of 1 record: no findings.")
    assert write("median_not_reached", example("median_not_reached"), "nl") == (
        "niet gehaald binnen de volgtijd: 40% geconverteerd op dag 180, 35% nog open")
    assert write("kpi_tree_root", example("kpi_tree_root"), "en") == (
        "Revenue per month (implied): 116,990 against a target of 125,000 (-6%).")
    # a rounded difference shows no minus zero
    assert write("simpsons_paradox", example("simpsons_paradox"), "en") == (
        "Simpson's paradox: the overall opportunity -> proposal (records by creation year) rate "
        "fell from 23.6% in 2024 to 23.6% in 2025 (0.0 points), yet the action segments holding "
        "64.7% of the records converted better within themselves. The mix moved: action = event "
        "went from 46.1% to 24.6% of the records (mix effect 0.0 points, rate effect 0.0 points). "
        "Judge the segments by their own rates, not by the overall trend.")
    assert write("change_mix_moved", example("change_mix_moved"), "en").startswith(
        "The mix moved between before and after: region (21% of the records in other segments, "
        "p < 0.001); product (5% of the records in other segments, p = 0.031).")


def test_a_finding_is_a_code_with_values_and_survives_a_pickle():
    finding = Finding("median_not_reached", {"converted": 0.4, "day": 180.0, "open": 0.35})
    assert (finding.code, finding.values) == ("median_not_reached",
                                              {"converted": 0.4, "day": 180.0, "open": 0.35})
    again = pickle.loads(pickle.dumps(finding))
    assert type(again) is Finding and again == finding
    assert (again.code, again.values) == (finding.code, finding.values)
    reason = pickle.loads(pickle.dumps(Reason.of("close_value", {"lost_share": 0.95,
                                                                "won_share": 0.1})))
    assert isinstance(reason, Reason) and isinstance(reason, Finding)
    assert reason.code == "close_value" and reason.values["won_share"] == 0.1
    assert str(reason) == ("the deal value is 0 or blank for 95% of lost deals but for 10% of "
                           "won deals: a close value, derived from the outcome")


def test_an_unknown_problem_code_is_a_programming_error():
    with pytest.raises(KeyError):
        Reason.of("no_such_problem")


def test_one_formatter_writes_every_number():
    # the issue's Done-when: no number formatted by hand outside the formatter
    done = subprocess.run(["grep", "-rnE", r":\.[0-9]%\}|:,\.[0-9]f\}|_format_p|_local\(",
                           "toolkit"], cwd=ROOT, capture_output=True, text=True)
    found = [line for line in done.stdout.splitlines()
             if not line.startswith("toolkit/present/format.py:")]
    assert found == []


def test_the_p_value_phrase():
    en, nl = formatter("en"), formatter("nl")
    assert en.p_phrase(0.0123) == "p = 0.012" and nl.p_phrase(0.0123) == "p = 0,012"
    assert en.p_phrase(1e-9) == "p < 0.001" and nl.p_phrase(0.99999) == "p > 0,999"
    assert en.p_phrase(np.nan) == "p –" and en.p_phrase(0.5, "p_adj") == "p_adj = 0.500"


@pytest.fixture(scope="module")
def demo_results():
    from toolkit import Engagement
    from toolkit.steps import run_all
    return Engagement.from_yaml(ROOT / "data/demo/engagement.yaml"), run_all(
        Engagement.from_yaml(ROOT / "data/demo/engagement.yaml"), seed=0)


def test_one_p_value_reads_the_same_in_a_figure_a_table_the_cli_and_a_page(demo_results,
                                                                          tmp_path, capsys):
    from toolkit.cli import run as cli
    from toolkit.present.plotting import plot_segment_scan
    from toolkit.present.tables import display_table
    from toolkit.report.render import render_report
    engagement, results = demo_results
    tests = results[4].results["seasonality"].tests
    p = float(tests.loc[1, "p_value"])  # the demo's seasonality of the conversion rate: 0.754
    number = formatter("en").p_value(p)
    assert number == "0.754"
    # a figure: the adjusted p-value beside a segment of the scan
    scan = pd.DataFrame({"attribute": ["owner"], "segment": ["A"], "from_phase": ["lead"],
                         "to_phase": ["opportunity"], "n": [94], "rate": [0.21],
                         "ci_low": [0.14], "ci_high": [0.31], "rest_rate": [0.47],
                         "p_adjusted": [p], "flagged": [False]})
    ax = plot_segment_scan(scan)
    labels = [t.get_text() for t in ax.child_axes[0].get_yticklabels()]
    assert labels[0].endswith(f"p_adj = {number}")
    # a table cell
    cell = display_table(tests, ["p_value"], fmt=formatter("en")).rows[1][0].text
    assert cell == number
    # the CLI
    cli._print_headlines(results)
    printed = capsys.readouterr().out
    assert f"p = {number}" in printed
    # a page: the step's conclusions and its table of the seasonality tests
    render_report(engagement, results, out_dir=tmp_path, language="en", pages=[4], figures={})
    page = next(tmp_path.glob("04_*.html")).read_text(encoding="utf-8")
    assert f"p = {number}" in page and f">{number}<" in page
    # nowhere another spelling of the same number
    for text in (labels[0], cell, printed, page):
        assert "p=0.75" not in text and "0.7543" not in text


def test_step_conclusions_are_the_sentences_the_narrative_wrote():
    from toolkit.present.narrative import Bullets, bullets
    from toolkit.steps.parts import sentences
    written = bullets(["a *b* <c>", "", "two\nlines"])
    # the lines are plain sentences (a line break is a space); the str is Markdown, each line
    # escaped once, so "*b*" and "<c>" show as typed in a notebook
    assert isinstance(written, Bullets) and written == "- a \\*b\\* &lt;c&gt;\n- two lines"
    assert sentences(written) == ["a *b* <c>", "two lines"]  # as written, never re-parsed
    with pytest.raises(TypeError):
        sentences("- a sentence")
    assert pickle.loads(pickle.dumps(written)).lines == written.lines


def test_step_5s_verdict_headline_is_a_finding_written_in_either_language():
    # issue 22: the verdict's headline is a code and values (the case, the steps below their
    # reference, the volume), written by the registry: English as before, Dutch from the catalogue
    from toolkit.base.findings import Finding
    from toolkit.present.findings import render
    values = {"case": "leak", "both": True,
              "volume": {"leads": 125.6, "phase": "lead", "need_now": 186.4, "goal": 12.0},
              "first": [("opportunity", "proposal", 0.236, 0.4, "target", 0.218, 0.254)],
              "also": []}
    verdict = Finding("diagnosis_verdict", values)
    assert verdict == ("Leak first, though both sides are off: opportunity -> proposal converts "
                       "23.6% against 40.0% for the target (95% CI 21.8% to 25.4%); also 125.6 "
                       "entries into lead per month against 186.4 needed for 12.0 orders at "
                       "today's conversion.")
    dutch = render(verdict, "nl")
    assert dutch.startswith("Eerst het lek, al wijken beide kanten af: opportunity -> proposal "
                            "converteert 23,6% tegen 40,0% voor het doel (95%-interval 21,8% tot")
    assert "125,6 intredes in lead per maand" in dutch
    # a code decides, never the text: the fruit turns "no clear fruit" into "gains in segments"
    # by a value, and the sentence follows
    none = Finding("diagnosis_verdict", {"case": "no clear low-hanging fruit", "volume": None,
                                         "missing": ["history"]})
    assert none.startswith("No clear low-hanging fruit: no step") and none.endswith(
        "What would decide it: two years of history, so each step can be set against its own "
        "earlier level.")
    gains = Finding(none.code, {**none.values, "gains_in_segments": True})
    assert gains.startswith("No side of the funnel is the obvious place to start, but segments")
    assert render(gains, "nl").startswith("Geen kant van de funnel")


def test_the_period_headline_and_step_5s_notes_are_findings_the_dutch_page_writes(demo_results):
    # issue 22: the period report's headline, step 5's evidence notes and today's orders are
    # codes and values; the English reads as before, the Dutch conclusions come from the registry
    from toolkit.present.narrative import steering
    engagement, results = demo_results
    view = results[7].results["view"]
    headline = view.report.headline
    assert [f.code for f in headline] == ["period_on_target", "period_quiet"]
    assert headline[0] == ("In 2026-07, 2 of 4 KPIs with a target are on target. Clearly short "
                           "of target: Conversion Target (suspects) → Lead within 90 days.")
    assert headline[0].values["off_kpis"] == ["conversion_target_lead"]
    dutch = steering(view, "nl", engagement.phase_model).lines
    assert ("In juli 2026 halen 2 van de 4 KPI's met een doel hun doel. Duidelijk onder het doel: "
            "Conversie Target (suspects) → Lead binnen 90 dagen.") in dutch
    assert ("5 KPI's veranderden niet meer dan toeval verklaart (niet significant op het "
            "5%-niveau).") in dutch
    fruit = results[5].results["fruit"]
    assert fruit.today.code == "fruit_today" and fruit.today.startswith("Today: 85.6 orders per ")
    assert render(fruit.today, "nl").startswith("Nu: 85,6 orders per jaar, ongeveer 1.419.965")
    notes = list(fruit.verdict.evidence["note"])
    assert {n.code for n in notes} <= {"verdict_test_note", "verdict_volume_note"}
    assert render(notes[0], "nl") == ("conversion_target_lead in de doelen; eenzijdig p < 0,001, "
                                      "Holm-gecorrigeerd < 0,001")
    assert notes[0] == ("conversion_target_lead in targets; one-sided p < 0.001, Holm-adjusted "
                        "< 0.001")
