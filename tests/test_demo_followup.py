"""The demo six months later (toolkit.demo_followup): the page "Since the last report" of its
report finds what the answer key says: the working action worked, the placebo did not, the
restated records are counted (and left out), the new records added and none removed."""

from __future__ import annotations

import warnings

import pytest
from conftest import DEMO

from toolkit import Engagement
from toolkit.analysis.action_plan import read_plan_file
from toolkit.demo_followup import PLACEBO_ACTION, RESTATED, WORKING_ACTION, write_followup
from toolkit.report.consistency import check_consistency
from toolkit.report.loop import loop_state
from toolkit.steps import run_all


@pytest.fixture(scope="module")
def loop(tmp_path_factory):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = Engagement.from_yaml(DEMO / "engagement.yaml")
        results = run_all(first, steps=[5, 6, 7])
        state, none = loop_state(first, results, None)
        assert none is None
        paths = write_followup(tmp_path_factory.mktemp("followup"), first=first,
                               plan=results[6].results["action_plan"])
        second = Engagement.from_yaml(paths["engagement"])
        later = run_all(second, steps=[5, 6, 7])
        _, since = loop_state(second, later, state)
    return first, second, paths, later, since


def test_the_follow_up_holds_the_same_records_plus_six_months(loop):
    first, second, *_ = loop
    assert set(first.records["record_id"]) < set(second.records["record_id"])
    assert (second.as_of - first.as_of).days in range(180, 183)
    # the consultant's plan: the two actions started on the first as-of date
    saved = read_plan_file(second, loop[2]["plan"])
    assert {saved[a]["status"] for a in (WORKING_ACTION, PLACEBO_ACTION)} == {"started"}


def test_the_page_finds_what_the_answer_key_says(loop):
    *_, later, since = loop
    verdicts = since.tables["actions"].set_index("action_id")["verdict"].to_dict()
    assert verdicts == {WORKING_ACTION: "worked", PLACEBO_ACTION: "did_not_work"}
    counts = dict(zip(since.tables["data changes"]["change"],
                      since.tables["data changes"]["records"], strict=True))
    assert counts["restated"] == RESTATED and counts["removed"] == 0 and counts["added"] > 1000
    # the restated records are left out of the working action's before/after
    working = since.tables["actions"].set_index("action_id").loc[WORKING_ACTION]
    assert working["restated_left_out"] == RESTATED
    assert check_consistency(later, since=since).empty


def test_the_answer_key_names_what_the_page_finds():
    text = (DEMO / "README.md").read_text(encoding="utf-8")
    section = text.split('## Six months later: the page "Sinds het vorige rapport"', 1)[1]
    assert "**werkte**" in section and "**werkte niet**" in section
    assert f"**{RESTATED} records with" in section
