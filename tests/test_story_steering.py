"""Issue 21 item 4, step 7: the scorecard's trend word agrees with its own comparison, and "What
changed since the month before" compares the months the scorecard judged (named), never a month
it rejected, with shares written as percentages. Hand-made monthly KPI frames."""

from __future__ import annotations

import pandas as pd

from toolkit.analysis.steering import period_report, scorecard
from toolkit.present.findings import period_headline
from toolkit.present.format import formatter

MONTHS = [f"2026-{m:02d}" for m in range(1, 8)]


def _frame() -> pd.DataFrame:
    """`conv`: 40 of 100 every month from January to June; July is immature (30 records still
    inside their window, 10 of the 70 counted converted: 14%). `share`: 138 of 500 (27.6%)
    from January to May, 218 of 500 (43.6%) in June, July immature likewise."""
    rows = []
    for month in MONTHS:
        july = month == "2026-07"
        rows.append({"kpi": "conv", "label": "Conversie a → b", "period": month,
                     "n": 70 if july else 100, "successes": 10 if july else 40,
                     "immature_n": 30 if july else 0, "target": 0.35, "higher_is_better": True})
        rows.append({"kpi": "share", "label": "Conversie b → c", "period": month,
                     "n": 70 if july else 500,
                     "successes": 5 if july else 218 if month == "2026-06" else 138,
                     "immature_n": 30 if july else 0, "target": 0.30, "higher_is_better": True})
    frame = pd.DataFrame(rows)
    frame["value"] = frame["successes"] / frame["n"]
    frame["ci_low"], frame["ci_high"] = frame["value"] - 0.05, frame["value"] + 0.05
    return frame


def test_the_trend_reads_only_the_months_the_scorecard_can_judge():
    # The immature July (14%) is not judged: the scorecard judges June, and its trend reads
    # January to June, where `conv` is flat at 40%: "stable" (a pin: the window already ended
    # at the judged month; it now also skips months too small to judge).
    card = scorecard(_frame()).set_index("kpi")
    assert card.loc["conv", "period"] == "2026-06"
    assert card.loc["conv", "trend"] == "stable"
    # `share` rose to 43.6% in June: the trend (Cochran-Armitage over January-June) rises too
    assert card.loc["share", "trend"] == "improving"


def test_what_changed_compares_the_scorecard_months_and_names_them():
    frame = _frame()
    card = scorecard(frame)
    report = period_report(frame, None, period_label="2026-07", card=card)
    changed = report.what_changed.set_index("kpi")
    # June (judged) against May, never the rejected July
    assert changed.loc["conv", "period"] == "2026-06"
    assert changed.loc["conv", "previous_period"] == "2026-05"
    assert changed.loc["share", "current"] == 218 / 500
    assert bool(changed.loc["share", "significant"])
    assert bool(changed.loc["share", "is_rate"]) and bool(changed.loc["share", "higher_is_better"])


def test_the_dutch_change_sentence_writes_shares_as_percentages_and_agrees_with_the_trend():
    frame = _frame()
    card = scorecard(frame)
    report = period_report(frame, None, period_label="2026-07", card=card)
    lines = period_headline(report.headline, formatter("nl"), period=report.period,
                            label=lambda key: str(key))
    rose = [line for line in lines if line.startswith("share")]
    assert len(rose) == 1
    # What was seen: "steeg van 0,276 naar 0,435 (significant ...; beter)" beside "verslechtert"
    # (written as the English headline writes them: whole percents, 0.276 -> 28%, 0.436 -> 44%)
    assert "28%" in rose[0] and "44%" in rose[0] and "0,276" not in rose[0]
    assert "beter" in rose[0]
