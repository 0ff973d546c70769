"""The evidence of a low-hanging fruit finding written from its fields in the report's language
(toolkit.present.tables, column `evidence_text`): the lead volume, a mix shift and stalled records
carry their numbers as fields (toolkit.analysis.diagnosis.verdict.FRUIT_FIELDS), so the evidence is no
longer a dash in Dutch; a mix shift's finding and hint name its step, attribute, periods and the
segment whose share moved. Each expected sentence below is worked out by hand from its row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from toolkit.present.format import formatter
from toolkit.present.tables import display_table

LABELS = {"target": "Target", "lead": "Lead", "proposal": "Proposal"}


def _shown(row: dict, language: str, column: str) -> str:
    table = display_table(pd.DataFrame([row]), [column], fmt=formatter(language), labels=LABELS)
    return table.rows[0][0].text


def _evidence(row: dict, language: str) -> str:
    return _shown(row, language, "evidence_text")


VOLUME = {"area": "volume", "from_phase": "proposal", "rate": 8.33, "reference_rate": 80.0,
          "entries_ci_low": 7.04, "entries_ci_high": 9.71, "orders_target": 20.0,
          "order_rate": 0.25}
MIX = {"area": "mix", "rate_effect": 0.026, "mix_effect": -0.0963, "p_pooled": 0.0004,
       "p_within": 0.0131}
STALLED = {"area": "stalled", "from_phase": "lead", "n": 34, "threshold_days": 27.2,
           "stall_quantile": 0.9, "moved_n": 3357, "open_n": 218, "stalled_value": 541050.0}


@pytest.mark.parametrize("row, language, expected", [
    # 7.04-9.71 entries a month to one decimal; 20 orders; 0.25 as a percentage
    (VOLUME, "en", "95% interval 7.0–9.7 entries per month; 20.0 orders per month wanted, at "
                   "today's conversion of 25.0% from Proposal"),
    (VOLUME, "nl", "95%-interval van de instroom 7,0–9,7 per maand; 20,0 orders per maand gewenst, bij "
                   "de huidige conversie van 25,0% vanaf Proposal"),
    # +0.026 = +2.6 points, -0.0963 = -9.6 points; p 0.0004 below 0.001, 0.0131 to 0.013
    (MIX, "en", "rate effect +2.6 points, mix effect -9.6 points; pooled p < 0.001, within the "
                "segments (Cochran-Mantel-Haenszel) p = 0.013"),
    (MIX, "nl", "conversie-effect +2,6 procentpunt, mixeffect -9,6 procentpunt; samengenomen "
                "p < 0,001, binnen de segmenten (Cochran-Mantel-Haenszel) p = 0,013"),
    # without a stratified test (it could not be formed): the pooled p-value alone, 0.25 -> 0.250
    ({**MIX, "rate_effect": -0.005, "mix_effect": 0.01, "p_pooled": 0.25, "p_within": np.nan},
     "en", "rate effect -0.5 points, mix effect +1.0 points; pooled p = 0.250"),
    # the 0.9 quantile as percentile 90; 3357 and 218 with thousands separators, plural
    (STALLED, "en", "threshold: percentile 90 of the time to the next phase among 3,357 records "
                    "that moved on; 218 open records at Lead"),
    (STALLED, "nl", "drempel: percentiel 90 van de tijd tot de volgende fase onder 3.357 records "
                    "die doorgingen; 218 open records bij Lead"),
    # one record that moved on, one open: singular in both languages
    ({**STALLED, "moved_n": 1, "open_n": 1}, "en",
     "threshold: percentile 90 of the time to the next phase among 1 record that moved on; "
     "1 open record at Lead"),
    ({**STALLED, "moved_n": 1, "open_n": 1}, "nl",
     "drempel: percentiel 90 van de tijd tot de volgende fase onder 1 record dat doorging; "
     "1 open record bij Lead"),
])
def test_the_evidence_is_written_from_the_fields(row, language, expected):
    assert _evidence(row, language) == expected


def test_a_bottleneck_keeps_its_records_interval_and_adjusted_p():
    row = {"area": "bottleneck", "from_phase": "lead", "to_phase": "proposal", "n": 2091,
           "ci_low": 0.218, "ci_high": 0.254, "p_adjusted": 7.9e-56}
    assert _evidence(row, "en") == "2,091 records; 95% interval 21.8–25.4%; adjusted p < 0.001"
    assert _evidence(row, "nl") == ("2.091 records; 95%-interval 21,8–25,4%; gecorrigeerde "
                                    "p < 0,001")


def test_a_finding_without_its_fields_shows_a_dash_not_the_english_sentence():
    # a fruit table written before the fields existed: no numbers to write the evidence from
    row = {"area": "mix", "evidence": "rate effect +2.6 points, mix effect -9.6 points"}
    assert _evidence(row, "nl") == "–"


MIX_SHIFT = {**MIX, "from_phase": "target", "to_phase": "lead", "attribute": "action",
             "segment": "cold calling", "period_a": "2024", "period_b": "2025",
             "rate_a": 0.4066, "rate_b": 0.3360, "share_a": 0.2075, "share_b": 0.4418}


@pytest.mark.parametrize("language, finding, hint", [
    # 0.4066 -> 40.7%, 0.3360 -> 33.6%; the attribute `action` by its word, inside the sentence;
    # the share of cold calling 0.2075 -> 20.8%, 0.4418 -> 44.2%
    ("en", "The overall conversion Target → Lead went from 40.7% in 2024 to 33.6% in 2025 "
           "through the mix of the action segments, not through their own conversion (Simpson's "
           "paradox)",
     "Judge each action segment by its own conversion, not by the total: the share of ‘cold "
     "calling’ moved from 20.8% to 44.2%"),
    ("nl", "De totale conversie Target → Lead ging van 40,7% in 2024 naar 33,6% in 2025 door de "
           "mix van de segmenten van actie, niet door hun eigen conversie (paradox van Simpson)",
     "Beoordeel elk segment van actie op zijn eigen conversie, niet op het totaal: het aandeel "
     "van ‘cold calling’ ging van 20,8% naar 44,2%"),
])
def test_a_mix_shift_names_its_step_attribute_periods_and_moved_segment(language, finding, hint):
    assert _shown(MIX_SHIFT, language, "finding_text") == finding
    assert _shown(MIX_SHIFT, language, "action_hint_text") == hint
