"""The "what we concluded" text is written from the results: it names the real numbers on the
demo, and says "too few records" instead of claiming anything on a tiny export."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import DEMO, write_salesforce_engagement

from toolkit import Engagement
from toolkit.analysis.planning import estimate_duration, factors_for
from toolkit.measure.audit import audit as run_audit
from toolkit.measure.funnel import funnel
from toolkit.measure.kpis import compute_kpis, kpi_tree
from toolkit.measure.seasonality import seasonality
from toolkit.present import narrative


@pytest.fixture(scope="module")
def demo():
    return Engagement.from_yaml(DEMO / "engagement.yaml")


def test_baseline_names_the_weakest_step_with_its_interval(demo):
    f = funnel(demo)
    text = narrative.baseline(demo, f, run_audit(demo), estimate_duration(factors_for(demo)))
    weakest = f.dropna(subset=["rate"]).sort_values("rate").iloc[0]
    assert f"{weakest['from_phase']} → {weakest['phase']} at {weakest['rate']:.0%}" in text
    assert "12,000 records" in text


def test_measurement_lists_every_conversion_with_n_and_immature(demo):
    kpis = compute_kpis(demo)
    text = narrative.measurement(kpis, seasonality(demo))
    conv = kpis[kpis["kind"] == "conversion"]
    for row in conv.itertuples():
        assert f"n = {int(row.n):,}" in text
    assert "steer on percentages" in text


def test_tiny_export_says_too_few_instead_of_claiming(tmp_path):
    e = Engagement.from_yaml(write_salesforce_engagement(tmp_path))
    kpis = compute_kpis(e)
    text = narrative.measurement(kpis, seasonality(e))
    assert "Too few mature records to conclude" in text
    assert "Too few mature records to fill the tree" in narrative.kpi_tree(kpi_tree(e, kpis))
    assert "significant" not in text


def test_scan_with_no_mature_records_does_not_claim_one_value():
    # Ten LeadSource values, none with a mature record yet: every rest_n is 0, but the attribute
    # has ten values, so "every record has lead_source = Employee Referral" would be false.
    from toolkit.present.narrative import _scan_lines
    scan = pd.DataFrame({"attribute": "lead_source",
                         "segment": ["Employee Referral", "Partner", "Web"], "n": 0,
                         "rest_n": 0, "p_adjusted": np.nan, "flagged": False})
    assert not any("every record has" in line for line in _scan_lines(scan))
    one = scan.head(1).assign(n=12)
    assert any("every record has lead_source = Employee Referral" in line
               for line in _scan_lines(one))
