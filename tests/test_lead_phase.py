"""Issue 21 item 5: "leads" are counted at the lead phase (the output of the early phases), never
at the middle of the list of transitions. The lead phase is declared (`lead_phase:`), or the phase
after the one whose `output` names qualified leads, or the second phase. Hand-made funnels whose
split was worked out by hand, the YAML check, and the demo."""

from __future__ import annotations

import pytest
import yaml
from conftest import DEMO, MAPPING, PHASES
from test_diagnosis import FLAT, _funnel_with

from toolkit import Engagement
from toolkit.analysis.diagnosis import low_hanging_fruit, shortage_or_leak
from toolkit.base.exceptions import ConfigError
from toolkit.io.config import lead_phase_key, load_config

# 1000 -> 500 -> 100 -> 50 -> 25 over 731 days (24.02 months): only b -> c (0.2) is below the
# flat benchmark of 0.5 (exact one-sided binomial p = P(X <= 100 | 500, 0.5) ~ 1e-44).
RATES = [0.5, 0.2, 0.5, 0.5]
MONTHS = 731 / (365.25 / 12)


def test_the_default_lead_phase_is_the_second_phase_without_a_named_output():
    # The old rule split four transitions in the middle (floor(4/2) = 2): b -> c was early and
    # the verdict read "shortage". The leads are the entries into b (the second phase), so
    # b -> c is the first late step: a leak.
    v = shortage_or_leak(_funnel_with(RATES, 1000), benchmarks=FLAT)
    assert v.lead_phase == "b"
    assert v.case == "leak"
    ev = v.evidence.set_index(["rule", "quantity"])
    assert ev.loc[("benchmark (late)", "b -> c"), "points_to"] == "below"
    assert ev.loc[("benchmark (early)", "a -> b"), "points_to"] == "not demonstrably below"


def test_a_declared_lead_phase_moves_the_split():
    v = shortage_or_leak(_funnel_with(RATES, 1000, lead_phase="c"), benchmarks=FLAT)
    assert v.lead_phase == "c"
    assert v.case == "shortage"
    assert "benchmark (early)" in set(v.evidence.loc[v.evidence["quantity"] == "b -> c", "rule"])


def test_the_volume_counts_entries_into_the_lead_phase():
    # 500 entries into b in 24.02 months = 20.8 a month. 5 orders a month at today's b -> e
    # conversion 0.2 x 0.5 x 0.5 = 0.05 need 100 leads a month.
    e = _funnel_with(RATES, 1000, targets={"orders_per_month": 5})
    v = shortage_or_leak(e, benchmarks=FLAT)
    vol = v.evidence[v.evidence["rule"] == "volume vs order target"].iloc[0]
    assert vol["quantity"] == "qualified leads (b) per month"
    assert vol["value"] == pytest.approx(500 / MONTHS)
    assert vol["reference_value"] == pytest.approx(100.0)
    fruit = low_hanging_fruit(e, benchmarks=FLAT, draws=200)
    row = fruit.table[fruit.table["area"] == "volume"].iloc[0]
    assert row["from_phase"] == "b" and row["order_rate"] == pytest.approx(0.05)
    bottleneck = fruit.table[fruit.table["area"] == "bottleneck"].iloc[0]
    assert bottleneck["side"] == "late"
    # every step test carries its side, decided once
    assert fruit.steps.drop_duplicates("step").set_index("step")["side"].to_dict() == {
        0: "early", 1: "late", 2: "late", 3: "late"}


@pytest.mark.parametrize(("outputs", "declared", "expected"), [
    (["", "", "", "", ""], None, "lead"),                                   # the second phase
    (["Gekwalificeerde leads", "Kansen", "", "", ""], None, "lead"),         # after target
    (["Contacts", "Qualified leads", "", "", ""], None, "opportunity"),      # after lead
    (["", "", "MQLs", "", ""], None, "proposal"),
    (["", "", "", "Qualified leads", ""], None, "proposal"),                 # never the won phase
    (["Gekwalificeerde leads", "", "", "", ""], "opportunity", "opportunity"),  # declared wins
])
def test_lead_phase_key_by_hand(outputs, declared, expected):
    keys = ["target", "lead", "opportunity", "proposal", "order"]
    assert lead_phase_key(keys, outputs, declared) == expected


def test_a_funnel_of_one_transition_counts_leads_at_its_first_phase():
    assert lead_phase_key(["mql", "won"], ["", ""]) == "mql"


def _write(tmp_path, **extra):
    doc = {"name": "t", "phases": PHASES, "stage_mapping": MAPPING,
           "sources": [{"path": "h.csv", "shape": "history",
                        "columns": {"record_id": "Deal", "stage": "Fase", "changed_at": "Datum"}}],
           **extra}
    path = tmp_path / "engagement.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def test_the_yaml_declares_the_lead_phase(tmp_path):
    assert load_config(_write(tmp_path, lead_phase="opportunity")).lead_phase_key() == "opportunity"
    assert load_config(_write(tmp_path)).lead_phase_key() == "lead"


def test_a_misspelt_lead_phase_names_the_phases_and_the_close_one(tmp_path):
    with pytest.raises(ConfigError, match=r"(?s)lead_phase.*'oportunity' is not a phase key \(did "
                                          r"you mean 'opportunity'\?\).*one of \['target', 'lead', "
                                          r"'opportunity', 'proposal'\]"):
        load_config(_write(tmp_path, lead_phase="oportunity"))


def test_the_won_phase_is_no_lead_phase(tmp_path):
    with pytest.raises(ConfigError, match=r"lead_phase.*'order' is the won phase"):
        load_config(_write(tmp_path, lead_phase="order"))


def test_the_demo_counts_its_leads_at_lead_not_at_opportunity():
    # The demo's target phase outputs "Gekwalificeerde leads": the leads are the entries into
    # lead. The old split counted "Aantal leads" at Potentieel (opportunity).
    e = Engagement.from_yaml(DEMO / "engagement.yaml")
    assert e.config.lead_phase_key() == "lead"
    fruit = low_hanging_fruit(e, draws=200)
    assert fruit.verdict.lead_phase == "lead"
    volume = fruit.table[fruit.table["area"] == "volume"]
    assert list(volume["from_phase"]) == ["lead"]
