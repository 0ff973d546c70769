"""The action plan (issue 23, part 1): every demonstrated gap of step 5's ranked list becomes an
action written from the phase model, with who, horizon, expected effect, KPI and when it can be
judged; the plan file keeps the consultant's status and start date across reruns."""

from __future__ import annotations

import datetime as dt
import math
import warnings
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import DEMO, MAPPING, write_engagement

from toolkit import Engagement, steps
from toolkit.analysis.action_plan import (
    action_plan,
    merge_plan,
    plan_path,
    read_plan_file,
    write_plan_file,
)
from toolkit.base.exceptions import ConfigError
from toolkit.steps.result import STEP_TABLES

KEY = "a-test-key-long-enough-0123456789"

PHASES = [
    {"key": "target", "label": "Target", "functions": ["Marketeer"],
     "tasks": ["Doelgroep kiezen"], "actions": ["bellen", "mailen", "beurs"]},
    {"key": "lead", "label": "Lead", "functions": ["Binnendienst"],
     "tasks": ["Kwalificeren"], "actions": ["intake"]},
    {"key": "opportunity", "label": "Kans", "functions": ["Accountmanager"],
     "tasks": ["Locatiebezoek", "Oplossing ontwerpen"], "actions": ["demo"]},
    {"key": "proposal", "label": "Offerte", "functions": ["Accountmanager", "Directeur"],
     "tasks": ["Offerte schrijven", "Onderhandelen"], "actions": ["nabellen"]},
    {"key": "order", "label": "Order", "functions": ["Directeur"], "tasks": ["Overdragen"],
     "actions": ["startgesprek"]},
]

ROWS = ["D1;Suspect;13-01-2025;Sanne de Vries", "D1;Lead;20-01-2025;Sanne de Vries",
        "D2;Suspect;14-01-2025;Ruud Hendriks", "D2;Offerte;15-02-2025;Ruud Hendriks",
        "D3;Lead;15-01-2025;Ruud Hendriks"]


@pytest.fixture(autouse=True)
def _key(monkeypatch, tmp_path_factory):
    monkeypatch.setenv("FUNNEL_KEY", KEY)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))


def _engagement(folder, rows=ROWS) -> Engagement:
    (folder / "h.csv").write_text("Deal;Fase;Datum;Eigenaar\n" + "\n".join(rows) + "\n",
                                  encoding="utf-8")
    path = write_engagement(folder, [{
        "path": "h.csv", "shape": "history", "date_format": "dmy",
        "columns": {"record_id": "Deal", "stage": "Fase", "changed_at": "Datum"},
        "attributes": {"owner": "Eigenaar"}}],
        phases=PHASES, stage_mapping=MAPPING, as_of="2026-01-01", cohort_window_days=90)
    return Engagement.from_yaml(path, use_cache=False)


def _owner(e: Engagement) -> str:
    """Ruud Hendriks' pseudonym (the owner of D3, who alone is at lead)."""
    return e.records.set_index("record_id").loc["D3", "owner"]


def _fruit(owner: str) -> pd.DataFrame:
    """A hand-made ranked list: a leak, one owner segment, a lead-volume gap, and items whose range
    includes zero or that are not sized (left out of the plan)."""
    nan = math.nan
    return pd.DataFrame([
        {"rank": 1, "area": "bottleneck", "side": "late", "from_phase": "opportunity",
         "to_phase": "proposal", "attribute": nan, "segment": nan, "rate": 0.20,
         "reference_rate": 0.40, "ci_low": 0.16, "ci_high": 0.25, "n": 100.0,
         "extra_orders": 30.0, "extra_orders_low": 24.0, "extra_orders_high": 36.0,
         "extra_revenue": 300_000.0},
        {"rank": 2, "area": "segment", "side": nan, "from_phase": "proposal", "to_phase": "order",
         "attribute": "owner", "segment": owner, "rate": 0.25, "reference_rate": 0.50,
         "ci_low": 0.14, "ci_high": 0.40, "n": 40.0, "extra_orders": 5.0,
         "extra_orders_low": 2.0, "extra_orders_high": 8.0, "extra_revenue": 50_000.0},
        {"rank": 3, "area": "volume", "side": nan, "from_phase": "lead", "to_phase": nan,
         "attribute": nan, "segment": nan, "rate": 100.0, "reference_rate": 150.0,
         "ci_low": nan, "ci_high": nan, "n": nan, "extra_orders": 12.0,
         "extra_orders_low": 10.0, "extra_orders_high": 14.0, "extra_revenue": nan},
        # not demonstrated: its range includes zero
        {"rank": 4, "area": "bottleneck", "side": "early", "from_phase": "target",
         "to_phase": "lead", "attribute": nan, "segment": nan, "rate": 0.30,
         "reference_rate": 0.32, "ci_low": 0.28, "ci_high": 0.32, "n": 500.0,
         "extra_orders": 1.0, "extra_orders_low": -0.5, "extra_orders_high": 2.5,
         "extra_revenue": 10_000.0},
        {"rank": 5, "area": "stalled", "side": nan, "from_phase": "lead", "to_phase": nan,
         "attribute": nan, "segment": nan, "rate": nan, "reference_rate": nan, "ci_low": nan,
         "ci_high": nan, "n": 3.0, "extra_orders": nan, "extra_orders_low": nan,
         "extra_orders_high": nan, "extra_revenue": nan},
    ])


# entries per month into each phase, and the mature records the sizing counted there
SIZING = pd.DataFrame({"from_phase": ["opportunity", "proposal"], "entries_per_period": [41.0, 20.0],
                       "n": [100.0, 200.0]})


def _plan(e: Engagement, fruit: pd.DataFrame | None = None):
    return action_plan(e, _fruit(_owner(e)) if fruit is None else fruit, sizing=SIZING)


def test_the_hand_made_case_gives_the_actions_worked_out_by_hand(tmp_path):
    e = _engagement(tmp_path)
    owner = _owner(e)
    assert owner.startswith("P-")  # pseudonymised at loading, and it stays a pseudonym here
    table = _plan(e).table.set_index("action_id")
    assert list(table.index) == ["leak-opportunity-proposal", "coach-owner-proposal-order-10of40",
                                 "volume-lead"]
    leak, coach, volume = (table.loc[i] for i in table.index)

    # a leak names the tasks of its phase, its function, and is structural: the top of its
    # interval (25%) is below three quarters of its reference (30%)
    assert leak["what_items"] == "Locatiebezoek; Oplossing ontwerpen"
    assert leak["who"] == "Accountmanager" and leak["horizon"] == "structural"
    assert leak["kpi"] == "conversion_opportunity_proposal"
    # the sizing's range as it is; revenue = the range x its average won value (10,000)
    assert (leak["extra_orders"], leak["extra_orders_low"], leak["extra_orders_high"]) == (
        30.0, 24.0, 36.0)
    assert (leak["extra_revenue_low"], leak["extra_revenue_high"]) == (240_000.0, 360_000.0)
    # Fleiss: p 0.20 -> 0.40 at 80% power, 5% two-sided: 81.2 records -> 82; at 41 a month that
    # is 2 months (60.9 days) + the 90-day window = 151 days after 1 Jan 2026: 1 Jun 2026
    assert leak["records_needed"] == 82
    assert leak["judge_by"] == dt.date(2026, 6, 1)

    # an owner segment: coach that owner (the pseudonym) on the phase's tasks; short term
    assert coach["what_items"] == "Offerte schrijven; Onderhandelen"
    assert coach["who"] == owner and coach["segment"] == owner
    assert coach["horizon"] == "short_term" and coach["kpi"] == "conversion_proposal_order"
    # 0.25 -> 0.50: 57.7 -> 58 records; the owner holds 40 of the 200 records at proposal, so 4 of
    # its 20 a month: 14.5 months (441.3 days) + 90 = 532 days: 17 Jun 2027
    assert coach["records_needed"] == 58
    assert coach["inflow_per_month"] == pytest.approx(4.0)
    assert coach["judge_by"] == dt.date(2027, 6, 17)

    # a lead-volume shortage: the early phases' actions (target, before lead), short term
    assert volume["what_items"] == "bellen; mailen; beurs"
    assert volume["who"] == "Marketeer" and volume["horizon"] == "short_term"
    assert volume["kpi"] == "volume_lead"
    assert volume["extra_revenue"] is None or pd.isna(volume["extra_revenue"])  # no amounts: n/a
    # Poisson counts 100 vs 150 a month: (1.96 + 0.84)^2 x 250 / 50^2 = 0.785 months; 118 entries
    # at 150 a month; 23.9 -> 24 days, no window: 25 Jan 2026
    assert volume["records_needed"] == 118
    assert volume["judge_by"] == dt.date(2026, 1, 25)
    assert set(table["status"]) == {"proposed"} and table["start"].isna().all()


def test_the_ids_do_not_depend_on_the_pseudonym_key_or_the_row_order(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    first = _plan(_engagement(tmp_path / "a"))
    monkeypatch.setenv("FUNNEL_KEY", KEY[::-1])
    (tmp_path / "b").mkdir()
    other = _engagement(tmp_path / "b", rows=ROWS[::-1])
    shuffled = _fruit(_owner(other)).iloc[::-1].reset_index(drop=True)
    second = _plan(other, shuffled)
    assert _owner(other) not in set(first.table["who"])  # another key: another pseudonym
    # the same actions with the same values; only the words naming the owner differ
    personal = ["who", "segment", "what", "rank"]
    a = first.table.set_index("action_id").drop(columns=personal)
    b = second.table.set_index("action_id").drop(columns=personal)
    pd.testing.assert_frame_equal(a.sort_index(), b.sort_index())


def test_the_plan_file_is_written_when_absent_and_never_overwritten(tmp_path):
    e = _engagement(tmp_path)
    plan = _plan(e)
    path = write_plan_file(e, plan)
    assert path == plan_path(e) == tmp_path / "plan.yaml"
    saved = read_plan_file(e)
    assert list(saved) == list(plan.table["action_id"])
    assert {a["status"] for a in saved.values()} == {"proposed"}
    assert all(a["start"] is None for a in saved.values())

    # the consultant agrees and starts the leak's action
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["actions"][0].update(status="started", start="2026-02-01")
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    edited = path.read_bytes()
    assert write_plan_file(e, plan) == path and path.read_bytes() == edited  # nothing new

    # a rerun with a new finding appends it, and keeps the edit
    fruit = _fruit(_owner(e))
    fruit.loc[3, ["extra_orders_low"]] = 0.5  # the early bottleneck is now demonstrated
    rerun = _plan(e, fruit)
    write_plan_file(e, rerun)
    saved = read_plan_file(e)
    assert list(saved) == ["leak-opportunity-proposal", "coach-owner-proposal-order-10of40",
                           "volume-lead", "raise-target-lead"]
    assert saved["leak-opportunity-proposal"]["status"] == "started"
    assert str(saved["leak-opportunity-proposal"]["start"]) == "2026-02-01"
    shown = merge_plan(rerun, saved).table.set_index("action_id")
    assert shown.loc["leak-opportunity-proposal", "status"] == "started"
    assert shown.loc["leak-opportunity-proposal", "start"] == dt.date(2026, 2, 1)
    assert shown.loc["raise-target-lead", "status"] == "proposed"


@pytest.mark.parametrize(("index", "key", "value", "words"), [
    (0, "phase", "kwalificatie", "a phase the engagement no longer has"),
    (1, "segment", "P-0000000000", "a segment the engagement no longer has"),
    (1, "status", "busy", "an unknown status"),
    (2, "start", "31-02-2026", "a start that is no date"),
])
def test_a_plan_naming_what_the_engagement_no_longer_has_is_refused(tmp_path, index, key, value,
                                                                   words):
    e = _engagement(tmp_path)
    path = write_plan_file(e, _plan(e))
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["actions"][index][key] = value
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        read_plan_file(e)
    text = str(error.value)
    name = doc["actions"][index]["id"]
    assert str(path) in text and name in text and words in text
    assert f"actions[{index}] (id {name}).{key}" in text and repr(value) in text
    assert "Fix:" in text


# ------------------------------------------------------------------------------------- the demo
@pytest.fixture(scope="module")
def demo_plan():
    e = Engagement.from_yaml(DEMO / "engagement.yaml")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        step5 = steps.diagnosis(e, seed=0)
        step6 = steps.improvement(e, seed=0, diagnosis=step5)
    return e, step5, step6


def test_step_6_shows_the_demo_plan_from_its_ranked_fruit(demo_plan):
    e, step5, step6 = demo_plan
    assert "action plan" in STEP_TABLES[6] and "Action plan" in step6.sheets
    table = step6.table("action plan").set_index("action_id")
    fruit = step5.results["fruit"].table
    # one action per demonstrated item of the ranked list, in its order
    assert list(table["rank"]) == list(fruit.loc[fruit["extra_orders_low"] > 0, "rank"])
    leak = table.loc["leak-opportunity-proposal"]
    assert leak["horizon"] == "structural" and leak["who"] == "Accountmanager"
    assert leak["what_items"] == "Locatiebezoek; oplossing ontwerpen"
    owner = table[table["what_code"] == "coach"].iloc[0]
    assert owner["segment"] == owner["who"] == "Ruud Hendriks"
    assert owner["kpi"] == "conversion_proposal_order" and owner["horizon"] == "short_term"
    volume = table.loc["volume-lead"]
    assert volume["kpi"] == "volume_lead"
    assert volume["what_items"] == "; ".join(e.phase_model.phases[0].actions)
    # the effect is the sizing's, never recomputed
    sized = fruit.set_index("rank")
    for row in table.itertuples():
        assert (row.extra_orders, row.extra_orders_low, row.extra_orders_high) == tuple(
            sized.loc[row.rank, ["extra_orders", "extra_orders_low", "extra_orders_high"]])
    assert table["judge_by"].map(lambda d: d > e.config.as_of).all()


def test_the_demo_plan_reads_in_dutch_on_the_page(demo_plan, tmp_path):
    from report_text import client_page_problems

    from toolkit.report.render import render_report, step_page_name
    e, step5, step6 = demo_plan
    results = steps.run_all(e, steps=[1, 2, 3, 4, 7])
    results.update({5: step5, 6: step6})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        render_report(e, results, out_dir=tmp_path, language="nl", edition="client", pages=[6])
    html = (tmp_path / step_page_name(6)).read_text(encoding="utf-8")
    assert "Actieplan" in html and "Verscherp de taken bij" in html
    assert "structureel (herinrichting)" in html and "Te beoordelen vanaf" in html
    # the KPI that will show it, in the page's language (it read "Entries into Lead")
    assert "Instroom in Lead" in html and "binnen 90 dagen" in html
    assert "Entries into" not in html and "within 90 days" not in html
    assert client_page_problems(html, language="nl", demo_allowed=True) == []


def test_funnel_run_writes_the_plan_when_absent_and_keeps_it_after(tmp_path, monkeypatch, capsys):
    # the report itself is stubbed: its step 6 result carries the hand-made plan
    from toolkit import cli, report
    from toolkit.steps.result import StepResult
    e = _engagement(tmp_path)
    plan = _plan(e)

    def build_report(engagement, *, kept=None, **options):
        kept[6] = StepResult(step=6, key="improvement", results={"action_plan": plan})
        return {"index": "i", "workbook": "w", "manifest": "m"}

    monkeypatch.setattr(report, "build_report", build_report)
    run = ["run", str(e.path), "--out", str(tmp_path / "out"), "--quiet"]
    assert cli.main(run) == 0
    path = tmp_path / "plan.yaml"
    assert f"Action plan: {path}" in capsys.readouterr().out
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert [a["id"] for a in doc["actions"]] == list(plan.table["action_id"])
    doc["actions"][1].update(status="agreed", start="2026-03-01")
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    edited = path.read_bytes()
    assert cli.main(run) == 0
    assert path.read_bytes() == edited


def test_a_segment_that_never_converts_has_no_judgement_date_rather_than_an_error(tmp_path):
    e = _engagement(tmp_path)
    fruit = _fruit(_owner(e))
    fruit.loc[1, "rate"] = 0.0  # the owner converted none of the 40
    row = _plan(e, fruit).table.set_index("action_id").loc["coach-owner-proposal-order-0of40"]
    assert row["records_needed"] is None or pd.isna(row["records_needed"])
    assert row["judge_by"] is None or pd.isna(row["judge_by"])
    assert row["extra_orders"] == 5.0  # the action itself stays in the plan


def test_a_plan_file_that_is_no_ordinary_file_is_refused_not_read(tmp_path, demo_plan):
    # issue 25's rule for every file the engagement names: a link to a device or a system file
    # is never read (a link to /dev/zero would be read until memory runs out)
    from toolkit.analysis.action_plan import read_plan_file
    from toolkit.base.exceptions import ConfigError
    e = demo_plan[0]
    for target in ("/dev/zero", "/etc/passwd"):
        link = tmp_path / f"plan-{Path(target).name}.yaml"
        link.symlink_to(target)
        with pytest.raises(ConfigError, match="plan-") as refused:
            read_plan_file(e, link)
        assert "root:" not in str(refused.value)


def test_without_a_demonstrated_gap_step_6_says_why_there_is_no_plan(demo_plan):
    # a ranked list whose every range reaches zero: no action, and the page says why (the
    # section was left out without a word, and an empty plan.yaml was written)
    import dataclasses
    e, step5, _ = demo_plan
    fruit = step5.results["fruit"]
    none_shown = dataclasses.replace(fruit, table=fruit.table.assign(extra_orders_low=0.0))
    quiet = dataclasses.replace(step5, results={**step5.results, "fruit": none_shown})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        step6 = steps.improvement(e, seed=0, diagnosis=quiet)
    assert "action plan" not in step6.tables and step6.results["action_plan"] is None
    assert step6.problems["action plan"].code == "no_demonstrated_gap"
