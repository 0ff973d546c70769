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
    audit = run_audit(demo)
    factors = factors_for(demo, audit=audit, funnel_frame=f)  # three measured, two scored
    text = narrative.baseline(demo, f, audit, estimate_duration(factors))
    weakest = f.dropna(subset=["rate"]).sort_values("rate").iloc[0]
    # the phases by their labels, as the tables name them
    label = demo.phase_model.label
    assert f"{label(weakest['from_phase'])} → {label(weakest['phase'])} at {weakest['rate']:.0%}" \
        in text
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
    # the attribute by its label (a role the method knows), in the sentence in lower case
    assert any("every record has lead source = Employee Referral" in line
               for line in _scan_lines(one))


# ------------------------------------------------------------------- the Dutch conclusions
# Small cases whose Dutch sentences were worked out by hand from the catalogue
# (toolkit/locale/nl/LC_MESSAGES/toolkit.po) and Dutch number format (1.234; 36%).

def test_dutch_kpi_tree_sentences_by_hand():
    tree = pd.DataFrame({"node": ["revenue", "conversion_x"],
                         "label": ["Revenue per month (implied)", "Lead naar kans"],
                         "value": [1234.4, 0.25], "target": [1500.0, 0.40], "unit": ["EUR", "%"]})
    # 1234.4 / 1500 - 1 = -0.177 -> -18%; the rate 0.25 / 0.40 is the furthest below; the goal
    # in the tree's unit, the currency EUR
    assert narrative.kpi_tree(tree, "nl") == (
        "- Omzet per maand (afgeleid): €\u00a01.234 tegen een doel van €\u00a01.500 (-18%).\n"
        "- Het verst onder het doel: Lead naar kans met 25% tegen 40%.")
    assert narrative.kpi_tree(tree) == (
        "- Revenue per month (implied): €1,234 against a target of €1,500 (-18%).\n"
        "- Furthest below its target: Lead naar kans at 25% against 40%.")


def test_dutch_measurement_sentence_by_hand():
    kpis = pd.DataFrame({"kpi": ["c"], "kind": ["conversion"], "label": ["Conversion lead → kans"],
                         "from_phase": ["lead"], "to_phase": ["kans"], "value": [0.3614],
                         "ci_low": [0.2], "ci_high": [0.5], "n": [1234], "immature_n": [56],
                         "status_vs_target": ["on target"], "status_code": ["on_target"]})
    assert narrative.measurement(kpis, None, language="nl") == (
        "- Conversie lead → kans: 36% (n = 1.234, 95%-interval 20%–50%; 56 nog te recent om mee "
        "te tellen) — doel gehaald.")


@pytest.mark.parametrize(("months", "expected"), [
    (1, "Pas 1 volledige maand historie: te kort om seizoensinvloed te beoordelen, daarvoor is "
        "minstens een heel jaar nodig (een verschil tussen maanden kan evengoed een trend zijn)."),
    (7, "Pas 7 volledige maanden historie: te kort om seizoensinvloed te beoordelen, daarvoor is "
        "minstens een heel jaar nodig (een verschil tussen maanden kan evengoed een trend zijn).")])
def test_dutch_seasonality_uses_the_plural_of_the_count(months, expected):
    from types import SimpleNamespace
    seasonal = SimpleNamespace(case="short_history", facts={"months": months}, headline="")
    kpis = pd.DataFrame({"kind": ["conversion"], "label": ["x"], "value": [np.nan],
                         "n": [0], "immature_n": [0]})
    text = narrative.measurement(kpis, seasonal, language="nl")
    assert f"- {expected}" in text.split("\n")


def test_dutch_demo_seasonality_reads_its_case_and_p_values(demo):
    text = narrative.measurement(compute_kpis(demo), seasonality(demo), language="nl")
    # the demo's volume is seasonal, its conversion is not (English: "steer on percentages")
    assert "De instroom is seizoensgebonden" in text and "stuur op percentages" in text
    assert "p = 0,754" in text
