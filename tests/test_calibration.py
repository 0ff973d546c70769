"""The calibration harness (benchmarks/calibrate_diagnosis.py) on a few companies: planted effects
found and attributed, null companies silent. The 400-company run is a benchmark, not a test."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import REPO as ROOT

from toolkit.base.exceptions import ToolkitError
from toolkit.datasets import PLANTED_EFFECTS, generate_planted_company


@pytest.fixture(scope="module")
def harness():
    spec = importlib.util.spec_from_file_location(
        "calibrate_diagnosis", ROOT / "benchmarks" / "calibrate_diagnosis.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["calibrate_diagnosis"] = module
    spec.loader.exec_module(module)
    return module


def test_planted_companies_carry_their_truth():
    c = generate_planted_company(effects=("owner_leak", "low_step"), n_records=2000, n_phases=4,
                                 seed=5)
    assert c.phases == ("target", "lead", "opportunity", "order")
    assert c.effects["owner_leak"]["transition"] == ("opportunity", "order")
    assert c.effects["low_step"]["half"] in ("early", "late")
    assert list(c.benchmarks["typical"]) == [0.36, 0.50, 0.50]
    # the canonical data model: every won record reached the last phase
    won = set(c.records.loc[c.records["outcome"] == "won", "record_id"])
    assert won == set(c.events.loc[c.events["phase"] == "order", "record_id"])
    null = generate_planted_company(n_records=500, n_phases=2, seed=5)
    assert null.effects == {} and null.changes == []
    with pytest.raises(ToolkitError, match="`effects` must name effects from"):
        generate_planted_company(effects=("leak",))
    with pytest.raises(ToolkitError, match="`n_phases` must be a whole number from 2 to 5"):
        generate_planted_company(n_phases=6)


def test_specs_are_drawn_from_the_seed_not_chosen(harness):
    a, b = harness.company_specs(14, 1), harness.company_specs(14, 2)
    assert a == harness.company_specs(14, 1) and a != b
    planted = [s for s in a if s["kind"] == "planted"]
    assert {s["effect"] for s in planted} == set(PLANTED_EFFECTS)
    assert sum(s["kind"] == "null" for s in a) == 14


@pytest.mark.parametrize("effect", ["owner_leak", "low_step", "source", "simpson_mix",
                                    "process_change"])
def test_smoke_planted_effect_is_found_and_attributed(harness, effect):
    row = harness.run_company({"kind": "planted", "effect": effect, "size": "demo",
                               "n_records": 12_000, "n_phases": 4, "seed": 20261129})
    assert row["found"] and row["attributed"]
    assert row["better_normal"] == 0
    assert row["durations_within_10pct"]
    if effect == "low_step":
        # What was seen: a step low all the time was sized below what noise gave a null company
        assert row["verdict_right"] and row["bottlenecks"]
    if effect == "simpson_mix":
        # What was seen: the paradox was reported in 9 of 20 planted companies
        assert row["simpson"].startswith("region@target->lead")


def test_smoke_null_company_makes_no_claim(harness):
    row = harness.run_company({"kind": "null", "family": "plain", "size": "half",
                               "n_records": 6_000, "n_phases": 5, "seed": 20261130})
    assert not row["any_claim"]
    assert row["verdict"] == "no clear low-hanging fruit"


def test_tables_read_the_rows(harness):
    rows = pd.DataFrame([
        {"kind": "planted", "effect": "source", "size": "demo", "found": True,
         "attributed": False, "verdict_right": np.nan, "better_normal": 1, "unplanted_flags": 1,
         "durations_within_10pct": True, "duration_max_rel_error": 0.05, "seconds": 1.0,
         "cpu_seconds": 0.5},
        {"kind": "null", "family": "plain", "size": "demo", "flags": "", "verdict": "leak",
         "simpson": "", "claimed_change": False, "any_claim": True, "seconds": 1.0,
         "cpu_seconds": 0.5}])
    text = harness.tables(rows, 60.0, 2)
    assert "| source | 1 | 100% | 0% | — |" in text
    assert "| plain | 1 | 0 (0.0%) | 1 (100.0%) | 0 (0.0%) | 0 (0.0%) | 1 (100.0%) |" in text
    assert "\"better\" flag for a normal segment: 1 (100.0%)" in text


@pytest.mark.parametrize("effect", ["owner_leak", "source"])
def test_smoke_structured_company_finds_the_planted_segment(harness, effect):
    # the structure of real exports (35 small owners, team and office looked up from the owner, a
    # blank sector with no win, an entry step everyone passes): the planted effect is still found
    # at its own attribute (an owner leak is a team leak here), and the findings are the same
    # under a second key and a row shuffle
    row = harness.run_company({"kind": "planted", "effect": effect, "size": "demo",
                               "n_records": 12_000, "n_phases": 4, "seed": 20261201,
                               "structured": True, "invariance": True})
    assert row["found"] and row["attributed"]
    assert row["changed_findings"] == ""
    if effect == "owner_leak":
        assert "team=Team " in row["flags"]


def test_smoke_structured_null_company_flags_no_segment(harness):
    row = harness.run_company({"kind": "null", "family": "structured", "size": "half",
                               "n_records": 6_000, "n_phases": 4, "seed": 20261202,
                               "structured": True, "invariance": True})
    assert row["flags"] == "" and row["changed_findings"] == ""
