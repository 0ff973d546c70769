"""The demo company loads through its engagement YAMLs: the dirt planted in the exports is found,
every row reconciles, and the two shapes give the same funnel."""

from __future__ import annotations

import json
import re

import pytest
from conftest import DEMO

from toolkit import Engagement
from toolkit.measure.audit import audit as run_audit
from toolkit.measure.funnel import funnel


@pytest.fixture(scope="module")
def history():
    return Engagement.from_yaml(DEMO / "engagement.yaml")


@pytest.fixture(scope="module")
def snapshot():
    return Engagement.from_yaml(DEMO / "engagement_snapshot.yaml")


def planted() -> dict:
    text = (DEMO / "README.md").read_text(encoding="utf-8")
    return json.loads(re.search(r"```json\n(.*?)\n```", text, re.S).group(1))


def test_every_row_reconciles(history, snapshot):
    for e in (history, snapshot):
        r = e.reconciliation
        assert (r["rows_in"] == r["rows_used"] + r["rows_quarantined"]).all()
        assert r["rows_quarantined"].sum() == e.quarantine["source_row"].nunique()


def test_planted_dirt_is_quarantined_with_reasons(history):
    dirt = planted()
    reasons = history.quarantine["reason"]
    assert reasons.str.startswith("duplicate of row").sum() == dirt["exact_duplicate_rows"]
    assert reasons.str.startswith("missing date").sum() == dirt["blank_date_rows"]
    assert reasons.str.startswith("unparseable date").sum() == dirt["impossible_date_rows"]
    assert reasons.str.startswith("missing record id").sum() == dirt["blank_deal_id_rows"]
    assert reasons.str.contains("declared `ignore`").sum() == dirt["test_rows"]


def test_both_shapes_give_the_same_funnel(history, snapshot):
    a = funnel(history)[["phase", "reached", "n", "successes"]]
    b = funnel(snapshot)[["phase", "reached", "n", "successes"]]
    assert a.equals(b)
    assert history.records["outcome"].value_counts().to_dict() == (
        snapshot.records["outcome"].value_counts().to_dict())


def test_audit_finds_the_planted_history_problems(history):
    dirt = planted()
    f = run_audit(history).findings.set_index("check")["records"]
    assert f["regressions"] == dirt["regression_records"]
    assert f["reopened_after_lost"] == dirt["reopened_records"]
    assert f["bulk_timestamp"] == dirt["bulk_timestamp_records"]
    rows = run_audit(history).findings.set_index("check")["rows"]
    assert rows["bulk_timestamp"] == dirt["bulk_timestamp_rows"]


def test_personal_column_is_pseudonymised(history):
    contacts = history.records["contact"].dropna()
    assert contacts.str.match(r"^P-[0-9a-f]{10}$").all()
    raw = (DEMO / "crm_fasehistorie.csv").read_text(encoding="cp1252")
    assert "José" in raw  # the export has real-looking names; the loaded table does not


def test_snapshot_gives_no_durations_rather_than_zero_days(snapshot):
    from toolkit.measure.kpis import KPI, compute_kpis
    k = compute_kpis(snapshot, kpis=[KPI(name="d", kind="duration", from_phase="lead",
                                         to_phase="opportunity")])
    assert k["value"].isna().all() and "snapshot" in k["period"].iloc[0]


def test_events_hold_one_row_per_record_and_phase_entered(history):
    ev = history.events
    assert not ev.duplicated(["record_id", "phase"]).any()
    # the later rows at a phase (second CRM stage, returns after moving back) stay in the log
    log = history.stage_log
    assert len(log[log["target"] != "lost"]) > len(ev)
    assert set(ev["source_stage"].str.casefold().str.strip()) >= {"suspect", "lead", "potentieel"}
