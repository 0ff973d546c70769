"""Since the last report (toolkit.analysis.since): hand-made cases whose answers were worked out
by hand: a restated record, an added one, a record that merely moved on, an action too early
with N of M and its date, a KPI difference real and not real, findings new and gone."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from toolkit.analysis.run_state import (
    SCHEMA_VERSION,
    fingerprint_at,
    read_run_state,
    record_chains,
    run_state,
    write_run_state,
)
from toolkit.analysis.since import (
    compare_findings,
    compare_kpis,
    evaluate_actions,
    record_changes,
    restated_ids,
    since_last_report,
)
from toolkit.base.exceptions import ConfigError
from toolkit.io.engagement import Engagement

PHASES = [{"key": k, "label": k.upper()} for k in "abc"]
T = pd.Timestamp


def _engagement(histories: dict[str, list[tuple[str, str]]], outcomes: dict[str, tuple],
                as_of: str) -> Engagement:
    """histories: record -> [(phase, time)]; outcomes: record -> (outcome, closed, lost_at)."""
    events = pd.DataFrame([{"record_id": r, "phase": p, "entered_at": T(t), "source_stage": p,
                            "source_row": i} for i, (r, h) in enumerate(histories.items())
                           for p, t in h])
    records = pd.DataFrame([{"record_id": r, "created_at": T(h[0][1]),
                             "outcome": outcomes.get(r, ("open",))[0],
                             "closed_at": (T(outcomes[r][1]) if r in outcomes else pd.NaT),
                             "lost_at_phase": outcomes[r][2] if r in outcomes else None,
                             "value": 1000.0} for r, h in histories.items()])
    return Engagement.from_tables(events, records, phases=PHASES, as_of=T(as_of))


def _state(engagement, **extra) -> dict:
    state = run_state(engagement, {})
    state.update(extra)
    return state


def test_restated_added_and_moved_on_records_are_told_apart():
    old = _engagement({"r1": [("a", "2025-01-05")], "r2": [("a", "2025-01-10"), ("b", "2025-02-01")],
                       "r3": [("a", "2025-02-10")]},
                      {"r2": ("lost", "2025-02-20", "b")}, as_of="2025-03-01")
    # r1 moved on after the old as-of (not restated); r2's earlier stage was re-dated (restated);
    # r3 unchanged; r4 is new
    new = _engagement({"r1": [("a", "2025-01-05"), ("b", "2025-03-15")],
                       "r2": [("a", "2025-01-10"), ("b", "2025-02-03")],
                       "r3": [("a", "2025-02-10")], "r4": [("a", "2025-03-20")]},
                      {"r2": ("lost", "2025-02-20", "b")}, as_of="2025-04-01")
    changes = record_changes(_state(old), _state(new))
    assert sorted(changes["change"]) == ["added", "restated"]
    codes = dict(zip(changes["change"], changes["record"], strict=True))
    assert codes["restated"].startswith("R-") and len(codes["restated"]) == 14
    assert restated_ids(new, _state(old)) == {"r2"}
    # an outcome edited after the fact is restated too; a record deleted is removed
    edited = _engagement({"r1": [("a", "2025-01-05")],
                          "r2": [("a", "2025-01-10"), ("b", "2025-02-01")]},
                         {"r2": ("won", "2025-02-20", None)}, as_of="2025-04-01")
    changes = record_changes(_state(old), _state(edited))
    assert sorted(changes["change"]) == ["removed", "restated"]


def test_a_chain_cut_at_an_earlier_date_is_the_history_that_date_saw():
    e = _engagement({"r1": [("a", "2025-01-05"), ("b", "2025-03-15")]}, {}, as_of="2025-04-01")
    (chain,) = record_chains(e).values()
    assert [link[0] for link in chain] == sorted(link[0] for link in chain)
    assert len(chain) == 3  # created, a, b
    minute = int((T("2025-03-01") - T("1970-01-01")) / pd.Timedelta(minutes=1))
    assert fingerprint_at(chain, minute) == chain[1][1]
    # an event in the as-of minute itself is after the export (it holds what happened before)
    assert fingerprint_at(chain, chain[2][0]) == chain[1][1]
    assert fingerprint_at(chain, 0) == ""


def test_the_state_holds_no_record_key_and_refuses_an_unknown_version(tmp_path):
    e = _engagement({"secret-key-77": [("a", "2025-01-05")]}, {}, as_of="2025-04-01")
    path = write_run_state(tmp_path, _state(e))
    assert b"secret-key-77" not in __import__("gzip").decompress(path.read_bytes())
    assert read_run_state(tmp_path)["version"] == SCHEMA_VERSION
    state = _state(e)
    state["version"] = SCHEMA_VERSION + 1
    write_run_state(tmp_path, state)
    with pytest.raises(ConfigError, match="schema version"):
        read_run_state(tmp_path)
    with pytest.raises(ConfigError, match="no run state"):
        read_run_state(tmp_path / "elsewhere")


def _card(period, value, n, **limits):
    return [{"kpi": "conversion_a_b", "label": "A to B", "unit": "%", "period": period,
             "value": value, "trials": n, "successes": round(value * n),
             "lcl": limits.get("lcl"), "ucl": limits.get("ucl")}]


def test_a_kpi_difference_real_and_not_real():
    # 30/100 against 50/100: score test z = 0.2/sqrt(0.4*0.6*0.02) = 2.89, p = 0.004 (real)
    kpis = compare_kpis({"scorecard": _card("2025-01", 0.30, 100)},
                        {"scorecard": _card("2025-04", 0.50, 100)})
    row = kpis.iloc[0]
    assert row["real"] and row["p_value"] == pytest.approx(0.0039, abs=2e-4)
    assert (row["previous_period"], row["period"]) == ("2025-01", "2025-04")
    assert row["difference"] == pytest.approx(0.20)
    # 30/100 against 34/100: z = 0.04/sqrt(0.32*0.68*0.02) = 0.61, p = 0.54 (not real)
    row = compare_kpis({"scorecard": _card("2025-01", 0.30, 100)},
                       {"scorecard": _card("2025-04", 0.34, 100)}).iloc[0]
    assert not row["real"] and row["p_value"] == pytest.approx(0.54, abs=0.01)
    # ... unless this month is outside its control limits
    row = compare_kpis({"scorecard": _card("2025-01", 0.30, 100)},
                       {"scorecard": _card("2025-04", 0.34, 100, lcl=0.1, ucl=0.33)}).iloc[0]
    assert row["real"] and row["outside_limits"]
    # the same month twice is nothing new; a KPI on one card only is n/a with its reason
    row = compare_kpis({"scorecard": _card("2025-04", 0.30, 100)},
                       {"scorecard": _card("2025-04", 0.34, 100)}).iloc[0]
    assert row["real"] is None and row["reason"] == "same_month"
    row = compare_kpis({"scorecard": []}, {"scorecard": _card("2025-04", 0.34, 100)}).iloc[0]
    assert row["real"] is None and row["reason"] == "not_on_previous_scorecard"


def test_findings_new_gone_and_still():
    f = lambda key: {"key": key, "area": key.split("|")[0]}  # noqa: E731
    table = compare_findings({"findings": [f("bottleneck|a|b||"), f("volume|a|||")]},
                             {"findings": [f("bottleneck|a|b||"), f("segment|b|c|team|x")]})
    assert dict(zip(table["key"], table["status"], strict=True)) == {
        "bottleneck|a|b||": "still", "segment|b|c|team|x": "new", "volume|a|||": "gone"}


def _steady_company(as_of: str, *, lift: float = 0.0, start: str = "2025-01-01", n=1200,
                    seed=1) -> Engagement:
    """Records entering a every day of 2024-2025 at 10:00; a -> b at 40% (plus `lift` from
    `start`), 10 days later; the rest lost at a after 20 days."""
    rng = np.random.default_rng(seed)  # the same company whatever the as-of: an export cuts it
    first, last = T("2024-01-01"), T(as_of)
    created = first + pd.to_timedelta(np.sort(rng.integers(0, 730, n)), "D")
    created = created + pd.Timedelta(hours=10)
    p = 0.40 + lift * (created >= T(start))
    to_b = rng.random(n) < p
    histories, outcomes = {}, {}
    for i, (c, b) in enumerate(zip(created, to_b, strict=True)):
        r = f"r{i}"
        if c >= last:
            continue
        histories[r] = [("a", str(c))]
        if b and c + pd.Timedelta(days=10) < last:
            histories[r].append(("b", str(c + pd.Timedelta(days=10))))
        elif not b and c + pd.Timedelta(days=20) < last:
            outcomes[r] = ("lost", str(c + pd.Timedelta(days=20)), "a")
    return _engagement(histories, outcomes, as_of)


ACTION = {"action_id": "raise-a-b", "status": "started", "from_phase": "a", "to_phase": "b",
          "attribute": None, "segment": None, "kpi": "conversion_a_b",
          "records_needed": 300, "inflow_per_month": 50.0, "window_days": 90}


def test_an_action_too_early_says_n_of_m_and_the_date():
    e = _steady_company("2025-07-01")
    rows = evaluate_actions(e, [{**ACTION, "start": dt.date(2025, 1, 1)}])
    row = rows.iloc[0]
    assert row["verdict"] == "too_early"
    # mature after the start: entered 2025-01-01 .. 2025-04-02 (as-of minus the 90-day window),
    # about 91 days x 1200/730 a day = ~150 records, fewer than the 300 needed
    assert 0 < row["n_after"] < 300 and row["records_needed"] == 300
    # expected: the start + 300 / 50 a month (6 months = 182.6 days) + 90 days, rounded up to
    # 273 days: 2025-01-01 + 273 days = 2025-10-01
    assert row["expected_by"] == dt.date(2025, 10, 1)


def test_an_action_that_worked_and_one_that_did_not():
    worked = _steady_company("2025-12-31", lift=0.25)
    row = evaluate_actions(worked, [{**ACTION, "start": dt.date(2025, 1, 1),
                                     "records_needed": 100}]).iloc[0]
    assert row["verdict"] == "worked" and row["n_after"] >= 100
    placebo = _steady_company("2025-12-31")
    row = evaluate_actions(placebo, [{**ACTION, "start": dt.date(2025, 1, 1),
                                      "records_needed": 100}]).iloc[0]
    assert row["verdict"] == "did_not_work"
    # an action not started is not evaluated
    assert evaluate_actions(placebo, [{**ACTION, "status": "agreed",
                                       "start": dt.date(2025, 1, 1)}]).empty


def test_restated_records_are_left_out_of_before_and_after():
    old = _steady_company("2025-06-30", lift=0.25, seed=3)
    new = _steady_company("2025-12-31", lift=0.25, seed=3)
    events = new.events.copy()
    moved = events["record_id"].isin(["r1", "r2"]) & (events["phase"] == "a")
    events.loc[moved, "entered_at"] += pd.Timedelta(days=1)
    restated = Engagement.from_tables(events.assign(phase=events["phase"].astype(str)),
                                      new.records, phases=PHASES, as_of=T("2025-12-31"))
    left_out = restated_ids(restated, _state(old))
    assert left_out == {"r1", "r2"}
    row = evaluate_actions(restated, [{**ACTION, "start": dt.date(2025, 1, 1),
                                       "records_needed": 100}], leave_out=left_out).iloc[0]
    assert row["restated_left_out"] == 2


def test_the_report_counts_what_it_compared():
    old = _engagement({"r1": [("a", "2025-01-05")]}, {}, as_of="2025-03-01")
    new = _engagement({"r1": [("a", "2025-01-06")], "r2": [("a", "2025-03-05")]}, {},
                      as_of="2025-04-01")
    report = since_last_report(_state(old, scorecard=_card("2025-01", 0.3, 100)),
                               _state(new, scorecard=_card("2025-02", 0.5, 100)))
    counts = dict(zip(report.tables["data changes"]["change"],
                      report.tables["data changes"]["records"], strict=True))
    assert counts == {"added": 1, "removed": 0, "restated": 1, "in both": 1}
    assert report.problems == {"actions": "no_started_action"}
    summary = report.summary.set_index("measure")["value"]
    assert summary["records restated"] == 1 and summary["KPIs with a real difference"] == 1


def test_an_as_of_taken_from_the_latest_event_does_not_make_that_event_look_edited():
    # the old export's as-of moment is its latest event (as_of left out of the YAML): both
    # histories are cut before that moment, so the record is unchanged, not restated
    old = _engagement({"r1": [("a", "2025-01-05 09:00"), ("b", "2025-03-01 10:00")]}, {},
                      as_of="2025-03-01 10:00")
    new = _engagement({"r1": [("a", "2025-01-05 09:00"), ("b", "2025-03-01 10:00")]}, {},
                      as_of="2025-04-01")
    assert record_changes(_state(old), _state(new)).empty
