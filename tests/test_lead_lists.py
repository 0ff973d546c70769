"""Lead lists without dates (DESIGN.md, "Input shapes" 4): `dated: false` on a snapshot source.
Counts, conversions and segment comparisons work; every time-based view says it needs dates
instead of inventing them. Each rule on a hand-made list whose answer is worked out by hand."""

from __future__ import annotations

import re

import pandas as pd
import pytest
import yaml
from conftest import reconciles, write_engagement

from toolkit import Engagement
from toolkit.base.exceptions import ConfigError, DataError, NeedsDates
from toolkit.measure.funnel import (
    NEEDS_DATES,
    NO_WINDOW,
    cohort_conversion,
    funnel,
    period_conversion,
    reached_at,
    reached_conversion,
    win_rate,
)
from toolkit.measure.kpis import compute_kpis, time_to_convert

TWO_PHASES = [{"key": "lead", "label": "Lead"}, {"key": "customer", "label": "Klant"}]

# Eight leads with a 0/1 converted flag and a source; a blank row and a repeated lead besides.
LEADS = ["L1;web;1", "L2;web;0", "L3;web;0", "L4;beurs;1", "L5;beurs;1", "L6;beurs;0", "L7;web;1",
         "L8;;0", ";;", "L2;web;0"]


def lead_list(tmp_path, lines=LEADS, **extra):
    (tmp_path / "leads.csv").write_text("Lead;Bron;Omgezet\n" + "\n".join(lines) + "\n")
    source = {"name": "leads", "path": "leads.csv", "shape": "snapshot", "dated": False,
              "columns": {"record_id": "Lead", "is_won": "Omgezet"},
              "attributes": {"bron": "Bron"}, **extra}
    doc = {"name": "leads", "phases": TWO_PHASES, "stage_mapping": {}, "sources": [source]}
    path = tmp_path / "engagement.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return Engagement.from_yaml(path, use_cache=False)


def test_a_converted_flag_list_loads_without_dates(tmp_path):
    e = lead_list(tmp_path)
    reconciles(e)
    # 10 data rows: the blank row and the second L2 quarantined, 8 leads used
    recon = e.reconciliation.iloc[0]
    assert (recon.rows_in, recon.rows_used, recon.rows_quarantined) == (10, 8, 2)
    rec = e.records.set_index("record_id")
    assert len(rec) == 8
    # converted: L1, L4, L5, L7; not converted (no closed flag): lost, said in the notes
    assert sorted(rec.index[rec["outcome"] == "won"]) == ["L1", "L4", "L5", "L7"]
    assert (rec["outcome"] == "lost").sum() == 4
    assert any("4 record(s) not flagged won" in n and "count as lost" in n for n in e.notes)
    assert any("lead list without dates" in n for n in e.notes)
    # nothing is dated: no invented creation, close or phase date
    assert rec["created_at"].isna().all() and rec["closed_at"].isna().all()
    assert e.events["entered_at"].isna().all()
    assert not e.dated and not e.timing_known


def test_funnel_and_win_rate_of_a_lead_list(tmp_path):
    e = lead_list(tmp_path)
    f = funnel(e).set_index("phase")
    # all 8 reached lead, 4 reached customer: 4/8 with Wilson 95% (0.2152, 0.7848)
    assert f.loc["lead", "reached"] == 8 and f.loc["customer", "reached"] == 4
    assert (f.loc["customer", "n"], f.loc["customer", "successes"]) == (8, 4)
    assert f.loc["customer", "rate"] == pytest.approx(0.5)
    assert f.loc["customer", "ci_low"] == pytest.approx(0.215216, abs=1e-6)
    assert f.loc["customer", "ci_high"] == pytest.approx(0.784784, abs=1e-6)
    assert f.loc["customer", "lost"] == 4 and f.loc["customer", "open"] == 0
    w = win_rate(e)  # 4 won / (4 won + 4 lost)
    assert (w["successes"].iloc[0], w["n"].iloc[0]) == (4, 8)


def test_segment_comparison_without_dates(tmp_path):
    e = lead_list(tmp_path)
    c = reached_conversion(e, from_phase="lead", to_phase="customer", by="bron").set_index("bron")
    # web: L1 L2 L3 L7 -> 2/4; beurs: L4 L5 L6 -> 2/3, Wilson (0.2077, 0.9385); blank: L8 -> 0/1
    assert (c.loc["web", "n"], c.loc["web", "successes"]) == (4, 2)
    assert (c.loc["beurs", "n"], c.loc["beurs", "successes"]) == (3, 2)
    assert c.loc["beurs", "ci_low"] == pytest.approx(0.207660, abs=1e-6)
    assert c.loc["beurs", "ci_high"] == pytest.approx(0.938508, abs=1e-6)
    assert (c.loc["(missing)", "n"], c.loc["(missing)", "successes"]) == (1, 0)
    assert (c["period"] == NO_WINDOW).all() and (c["method"] == "reached").all()
    assert c["immature_n"].isna().all()


def test_kpis_of_a_lead_list_say_which_need_dates(tmp_path):
    e = lead_list(tmp_path)
    k = compute_kpis(e).set_index("kpi")
    conv = k.loc["conversion_lead_customer"]
    assert (conv["n"], conv["successes"], conv["value"]) == (8, 4, 0.5)
    assert conv["period"] == NO_WINDOW
    assert conv["ci_low"] == pytest.approx(0.215216, abs=1e-6)
    assert "within" not in k.loc["cumulative_conversion", "label"]  # no window without dates
    assert k.loc["win_rate", "value"] == pytest.approx(0.5)
    # volume per month, durations and velocity need dates: said, with no value
    for name in ("volume_lead", "duration_lead_customer", "sales_velocity"):
        assert k.loc[name, "period"] == NEEDS_DATES
        assert pd.isna(k.loc[name, "value"]) and k.loc[name, "status_vs_target"] == "no data"
    by = compute_kpis(e, by="bron")
    web = by[(by["kpi"] == "conversion_lead_customer") & (by["bron"] == "web")].iloc[0]
    assert (web["n"], web["successes"]) == (4, 2)


@pytest.mark.parametrize("view", [
    lambda e: cohort_conversion(e),
    lambda e: period_conversion(e),
    lambda e: reached_at(e),
    lambda e: win_rate(e, period="month"),
    lambda e: compute_kpis(e, period="month"),
    lambda e: time_to_convert(e),
    lambda e: e.as_of,
])
def test_every_time_based_view_says_it_needs_dates(tmp_path, view):
    e = lead_list(tmp_path)
    with pytest.raises(NeedsDates) as caught:
        view(e)
    text = str(caught.value)
    assert "needs dates" in text and "'leads'" in text and "Fix:" in text
    assert caught.value.code == "needs_dates"


def test_time_based_analyses_say_they_need_dates(tmp_path):
    from toolkit.analysis.diagnosis import low_hanging_fruit, shortage_or_leak
    from toolkit.analysis.simulation import evaluate_change, required_volume
    from toolkit.analysis.steering import monthly_kpis, steering_view
    from toolkit.measure.seasonality import seasonality
    e = lead_list(tmp_path)
    for what, view in (
            ("Seasonality", lambda: seasonality(e)),
            ("KPIs by month", lambda: monthly_kpis(e)),
            ("Steering", lambda: steering_view(e)),
            ("Before/after", lambda: evaluate_change(e, change_date="2025-01-01",
                                                     from_phase="lead")),
            ("volume per month", lambda: required_volume(e, orders=10)),
            ("shortage-or-leak", lambda: shortage_or_leak(e)),
            ("low-hanging fruit", lambda: low_hanging_fruit(e))):
        with pytest.raises(NeedsDates, match=what):
            view()


# A five-phase list with the current stage and a status: how far each lead got, no dates.
#   A Gewonnen won -> all five phases; B Offerte lost -> lost at proposal; C Lead open;
#   D Potentieel lost -> lost at opportunity; E Suspect open; F Offerte open.
STAGED = ["A;Gewonnen;won", "B;Offerte;lost", "C;Lead;open", "D;Potentieel;lost", "E;Suspect;open",
          "F;Offerte;open"]


def staged_list(tmp_path, lines=STAGED, columns=None, **extra):
    (tmp_path / "leads.csv").write_text("Deal;Fase;Status\n" + "\n".join(lines) + "\n")
    source = {"name": "leads", "path": "leads.csv", "shape": "snapshot", "dated": False,
              "columns": columns or {"record_id": "Deal", "current_stage": "Fase",
                                     "status": "Status"}, **extra}
    return Engagement.from_yaml(write_engagement(tmp_path, [source]), use_cache=False)


def test_a_staged_lead_list_counts_every_phase_reached(tmp_path):
    e = staged_list(tmp_path)
    reconciles(e)
    f = funnel(e).set_index("phase")
    # reached: target 6; lead 5 (all but E); opportunity 4 (A B D F); proposal 3 (A B F); order 1
    assert f["reached"].tolist() == [6, 5, 4, 3, 1]
    assert f.loc["order", "rate"] == pytest.approx(1 / 3)  # proposal -> order: A of A, B, F
    assert f.loc["order", "cumulative_rate"] == pytest.approx(1 / 6)
    rec = e.records.set_index("record_id")
    assert rec.loc["B", "lost_at_phase"] == "proposal"
    assert rec.loc["D", "lost_at_phase"] == "opportunity"
    w = win_rate(e)  # 1 won / (1 won + 2 lost), 3 open beside it
    assert (w["successes"].iloc[0], w["n"].iloc[0], w["open"].iloc[0]) == (1, 3, 3)
    c = reached_conversion(e).set_index("to_phase")
    assert c["n"].tolist() == [6, 5, 4, 3] and c["successes"].tolist() == [5, 4, 3, 1]


def test_a_lead_list_without_dated_false_is_refused_with_the_key(tmp_path):
    (tmp_path / "leads.csv").write_text("Lead;Omgezet\nL1;1\n")
    source = {"name": "leads", "path": "leads.csv", "shape": "snapshot",
              "columns": {"record_id": "Lead", "is_won": "Omgezet"}}
    with pytest.raises(DataError, match="dated: false"):
        Engagement.from_yaml(write_engagement(tmp_path, [source]), use_cache=False)


@pytest.mark.parametrize("source, words", [
    ({"shape": "history", "columns": {"record_id": "Lead", "stage": "Fase",
                                      "changed_at": "Datum"}}, "shape: snapshot"),
    ({"shape": "snapshot", "columns": {"record_id": "Lead", "is_won": "Omgezet",
                                       "created_at": "Datum"}}, "names ['created_at']"),
])
def test_dated_false_is_refused_where_it_cannot_hold(tmp_path, source, words):
    (tmp_path / "leads.csv").write_text("Lead;Omgezet\nL1;1\n")
    source = {"name": "leads", "path": "leads.csv", "dated": False, **source}
    with pytest.raises(ConfigError, match=re.escape(words)):
        Engagement.from_yaml(write_engagement(tmp_path, [source]), use_cache=False)


def test_a_lead_list_cannot_be_mixed_with_dated_sources(tmp_path):
    (tmp_path / "leads.csv").write_text("Lead;Omgezet\nL1;1\n")
    (tmp_path / "deals.csv").write_text("Deal;Fase;Datum\nD1;Lead;01-02-2025\n")
    sources = [{"name": "leads", "path": "leads.csv", "shape": "snapshot", "dated": False,
                "columns": {"record_id": "Lead", "is_won": "Omgezet"}},
               {"name": "deals", "path": "deals.csv", "shape": "history", "date_format": "dmy",
                "columns": {"record_id": "Deal", "stage": "Fase", "changed_at": "Datum"}}]
    with pytest.raises(ConfigError, match="cannot mix"):
        Engagement.from_yaml(write_engagement(tmp_path, sources), use_cache=False)


def test_the_cli_on_a_lead_list(tmp_path, capsys):
    from toolkit.cli import main
    lead_list(tmp_path)  # writes leads.csv and engagement.yaml
    path = str(tmp_path / "engagement.yaml")
    assert main(["validate", path]) == 0
    out = capsys.readouterr().out
    assert "as of n/a (a lead list without dates)" in out and "Outcomes: won 4, lost 4" in out
    assert main(["kpis", path]) == 0
    out = capsys.readouterr().out
    # the table in words (the codes NO_WINDOW and NEEDS_DATES are the KPI frame's)
    assert "all (no dates, so no cohort window)" in out and "n/a: needs dates" in out
    assert "50.0% (21.5–78.5%)" in out
    assert main(["kpis", path, "--period", "month"]) == 2
    err = capsys.readouterr().err
    assert "KPIs by month: needs dates" in err and "Fix:" in err and "Traceback" not in err


def test_the_segment_scan_compares_segments_without_dates(tmp_path):
    from toolkit.analysis.diagnosis import segment_scan
    # 300 leads: bron A converts 50 of 100, C 30 of 100, B 10 of 100. The typical source is the
    # median, C (30%); A is better (50/100 against 30/100), B worse (10/100), each far outside
    # chance (two-sided score test, pooled: A vs C z = 2.89, B vs C z = -3.54).
    lines = [f"{s}{i};{s};{int(i < k)}" for s, k in (("A", 50), ("B", 10), ("C", 30))
             for i in range(100)]
    e = lead_list(tmp_path, lines)
    scan = segment_scan(e).set_index("segment")
    assert scan.loc[["A", "B", "C"], "n"].tolist() == [100, 100, 100]
    assert scan.loc[["A", "B", "C"], "successes"].tolist() == [50, 10, 30]
    assert scan.loc["A", "flagged"] and scan.loc["A", "direction"] == "better"
    assert scan.loc["B", "flagged"] and scan.loc["B", "direction"] == "worse"
    assert not scan.loc["C", "flagged"]
    assert "cohort year" not in scan.loc["A", "finding"]


def test_funnel_run_on_a_lead_list_reports_and_refuses_only_the_notebooks(tmp_path, capsys):
    from toolkit.cli import main
    lead_list(tmp_path)
    path = str(tmp_path / "engagement.yaml")
    # the notebooks measure in months and days: refused before a kernel starts, naming the way
    assert main(["run", path, "--out", str(tmp_path / "nb"), "--notebooks"]) == 2
    err = capsys.readouterr().err
    assert "lead list without dates" in err and "without --notebooks" in err
    assert "Traceback" not in err and not (tmp_path / "nb").exists()
    # the report from the step results: counts and conversions, each dated part says why not
    assert main(["run", path, "--out", str(tmp_path / "report"), "--quiet"]) == 0
    index = (tmp_path / "report" / "index.html").read_text(encoding="utf-8")
    # 8 leads, 4 converted (L1, L4, L5, L7): 50.0% on the arrow Lead -> Order
    assert "50.0%" in index and "8 records, without dates." in index


def test_the_seven_steps_on_a_lead_list_say_which_parts_need_dates(tmp_path):
    from toolkit.steps import run_all
    e = lead_list(tmp_path)
    results = run_all(e)
    assert sorted(results) == [1, 2, 3, 4, 5, 6, 7]
    problems = {(step, part): why for step, r in results.items()
                for part, why in r.problems.items()}
    # the counts and conversions are there; every part that needs a date says so, nothing else
    # step 1's one problem: the lead list's YAML scores no duration factor (no duration then)
    assert "funnel" in results[1].tables
    assert {part: why.code for part, why in results[1].problems.items()} == {
        "duration": "factors_not_scored"}
    dated_parts = {key for key, why in problems.items() if "needs dates" in why}
    assert {(4, "cohorts"), (4, "time to convert"), (4, "seasonality"), (5, "fruit"),
            (6, "plan"), (7, "view")} <= dated_parts
    for why in (problems[key] for key in dated_parts):
        assert "lead list without dates" in why and "Fix:" in why


def test_step_5_of_a_lead_list_shows_the_segment_scan_on_the_page_and_in_the_workbook(tmp_path):
    # What was seen (issue 21, item 9): a lead list got no segment comparison in the report (step
    # 5 said it needs dates; no segment-scan sheet). The same 300 leads as above: A 50/100 better,
    # B 10/100 worse than the typical C 30/100 (z = 2.89 and -3.54 against C).
    import openpyxl

    from toolkit.cli import main
    from toolkit.steps import diagnosis
    lines = [f"{s}{i};{s};{int(i < k)}" for s, k in (("A", 50), ("B", 10), ("C", 30))
             for i in range(100)]
    e = lead_list(tmp_path, lines)
    result = diagnosis(e)
    assert "needs dates" in result.problems["fruit"]  # no ranked list: it is sized per month
    flagged = result.tables["flagged segments"].set_index("segment")
    assert sorted(flagged.index) == ["A", "B"]
    assert flagged.loc["A", "direction"] == "better" and flagged.loc["B", "direction"] == "worse"
    assert "Segment scan" in result.sheets and "segment scan" in result.figures
    said = " ".join(result.conclusions_by_language["en"])
    assert "‘A’ converts 50.0% at Lead → Klant" in said and "judged on its own" in said
    assert "cohort year" not in said  # a lead list has none to hold fixed
    assert main(["run", str(tmp_path / "engagement.yaml"), "--out", str(tmp_path / "report"),
                 "--quiet"]) == 0
    page = (tmp_path / "report" / "05_diagnosis.html").read_text(encoding="utf-8")
    assert "Segments that differ from the typical segment" in page
    assert "50.0%" in page and "10.0%" in page
    book = openpyxl.load_workbook(next((tmp_path / "report").glob("*.xlsx")), read_only=True)
    assert "Segment scan" in book.sheetnames
    rows = list(book["Segment scan"].iter_rows(values_only=True))
    header = list(rows[0])
    segments = {row[header.index("Segment")]: row for row in rows[1:]}
    assert segments["A"][header.index("Judgement")] == "differs from the typical segment"
    assert segments["C"][header.index("Judgement")] == "the typical segment"
