"""Same data, same answer (DESIGN.md; issue 21, "Invariance as a rule and a test"): step 5's
findings (scan rows by code and counts, flags, the ranked list's items and sizes, the verdict, the
steps not scanned) do not change under a second pseudonymisation key, a row shuffle of the source
or a relabelling of the categories. Compared by what they say (benchmarks/invariance.py), not by
the pages.

Here: the demo (owners pseudonymised, so the key matters), the three small shared samples and two
generated companies with the structure of real exports. The two slow samples (HubSpot's
586-column export, the Pipedrive workbook) and more companies run in
`python benchmarks/invariance.py`."""

from __future__ import annotations

import importlib.util
import sys

import pytest
from conftest import DEMO, REPO, write_salesforce_engagement
from samples import write_sample_engagement


@pytest.fixture(scope="module")
def invariance():
    spec = importlib.util.spec_from_file_location("invariance",
                                                  REPO / "benchmarks" / "invariance.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["invariance"] = module
    spec.loader.exec_module(module)
    return module


def test_the_demo_gives_the_same_findings_under_every_change(invariance, tmp_path):
    path = invariance.pseudonymised_owners(DEMO / "engagement.yaml", tmp_path / "demo")
    e = invariance.load(path, invariance.KEYS[0])
    assert e.records["owner"].astype(str).str.startswith("P-").all()  # the key matters here
    changes = invariance.yaml_changes(path, tmp_path / "shuffled")
    assert changes == {change: [] for change in invariance.CHANGES}


@pytest.mark.parametrize("name", ["salesforce_opportunity_history", "salesforce_winkel",
                                  "hubspot_accredible"])
def test_a_shared_sample_gives_the_same_findings_under_every_change(invariance, tmp_path, name):
    path = (write_salesforce_engagement(tmp_path) if name == "salesforce_opportunity_history"
            else write_sample_engagement(tmp_path, name))
    changes = invariance.yaml_changes(path, tmp_path / "shuffled")
    assert changes == {change: [] for change in invariance.CHANGES}


@pytest.mark.parametrize("seed, effect", [(11, None), (12, "owner_leak")])
def test_a_company_with_real_structure_gives_the_same_findings(invariance, seed, effect):
    # 35 owners with small n, team and office looked up from the owner, a blank sector with no
    # win, an entry step everyone passes: what made the findings follow the key (issue 21)
    e = invariance.structured_company(seed, 3000, effect)
    base = invariance.step5(e)
    assert base["not_scanned"] == [("prospect", "target")]
    changes = invariance.table_changes(e)
    assert changes == {change: [] for change in invariance.CHANGES}


def test_the_comparison_sees_a_changed_finding(invariance):
    # the check itself can fail: a flag that moves to another segment is a difference
    a = {"scan": [("owner", "#D1", "lead", "order", 40, 4, True, "worse", "flagged")]}
    b = {"scan": [("owner", "#D2", "lead", "order", 40, 4, True, "worse", "flagged")]}
    assert invariance.differences(a, b) == [
        "scan: [('owner', '#D1', 'lead', 'order', 40, 4, True, 'worse', 'flagged')] -> "
        "[('owner', '#D2', 'lead', 'order', 40, 4, True, 'worse', 'flagged')]"]
    assert invariance.differences(a, a) == []
