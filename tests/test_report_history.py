"""The report history (toolkit.analysis.history): one line per run, a KPI a run did not have is
missing (never 0), and the trend over runs is each value's difference to the run before."""

from __future__ import annotations

import pandas as pd
import pytest

from toolkit.analysis.history import HISTORY_FILE, append_history, history_path, read_history, scorecard_trend
from toolkit.base.exceptions import ConfigError


def _state(as_of, **values):
    return {"as_of": as_of, "run_at": as_of + "T12:00:00+00:00",
            "scorecard": [{"kpi": k, "value": v, "period": as_of[:7]} for k, v in values.items()]}


def test_one_line_per_run_and_the_trend(tmp_path):
    path = history_path(tmp_path / "2026-01-31")
    assert path == tmp_path.resolve() / HISTORY_FILE
    append_history(path, _state("2026-01-31", conv_a_b=0.30), report="2026-01-31")
    append_history(path, _state("2026-02-28", conv_a_b=0.35, win_rate=0.2), report="2026-02-28")
    append_history(path, _state("2026-03-31", conv_a_b=0.25), report="2026-03-31")
    history = read_history(path)
    assert list(history["report"]) == ["2026-01-31", "2026-02-28", "2026-03-31"]
    # a KPI the first and last run did not have is missing there, not 0
    assert history["win_rate"].isna().tolist() == [True, False, True]
    trend = scorecard_trend(path)
    conv = trend[trend["kpi"] == "conv_a_b"]
    assert conv["value"].tolist() == pytest.approx([0.30, 0.35, 0.25])
    # 0.35 - 0.30 and 0.25 - 0.35; the first run has no run before it
    assert conv["change"].tolist()[1:] == pytest.approx([0.05, -0.10])
    assert conv["period"].tolist() == ["2026-01", "2026-02", "2026-03"]
    assert len(trend[trend["kpi"] == "win_rate"]) == 1


def test_a_file_that_is_no_history_is_refused_with_the_fix(tmp_path):
    path = tmp_path / HISTORY_FILE
    path.write_text("name,email\nx,y\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="no report history"):
        append_history(path, _state("2026-01-31", k=0.1), report="r")


# --- the scorecard over the reports: count and interval kept, runs not yet in the file added ---

def _card(as_of, run_at, value, n=None, low=None, high=None):
    return {"as_of": as_of, "run_at": run_at, "records": {}, "findings": [],
            "scorecard": [{"kpi": "conv_a_b", "label": "Conversion A → B", "unit": "%",
                           "period": as_of[:7], "value": value, "trials": n,
                           "ci_low": low, "ci_high": high}]}


def test_the_history_keeps_count_and_interval_and_an_older_file_reads_them_as_missing(tmp_path):
    path = tmp_path / HISTORY_FILE
    # a history written before the count and interval were kept: value and month only
    path.write_text("as_of,run_at,report,conv_a_b,conv_a_b month\n"
                    "2026-01-31,2026-02-01T09:00:00,r1,0.30,2026-01\n", encoding="utf-8")
    append_history(path, _card("2026-02-28", "2026-03-01T09:00:00", 0.35, 200, 0.29, 0.42),
                   report="r2")
    trend = scorecard_trend(path)
    assert trend["report"].tolist() == ["r1", "r2"]
    assert trend["trials"].isna().tolist() == [True, False]  # not kept then: missing, never 0
    assert trend.loc[1, ["trials", "ci_low", "ci_high"]].tolist() == pytest.approx([200, 0.29, 0.42])
    assert trend["change"].tolist()[1] == pytest.approx(0.05)


def test_trend_with_adds_the_runs_the_file_does_not_hold_once():
    from toolkit.analysis.history import trend_with
    history = pd.DataFrame([{"as_of": "2026-01-31", "run_at": "2026-02-01T09:00:00",
                             "report": "r1", "conv_a_b": "0.30", "conv_a_b month": "2026-01"}])
    previous = _card("2026-01-31", "2026-02-01T09:00:00", 0.30)  # already in the file
    current = _card("2026-02-28", "2026-03-01T09:00:00", 0.20, 100, 0.13, 0.29)
    trend = trend_with(history, [(previous, ""), (current, "")])
    assert trend["as_of"].tolist() == ["2026-01-31", "2026-02-28"]
    # 0.20 - 0.30, by hand
    assert trend["change"].tolist()[1] == pytest.approx(-0.10)
    # an empty history: the two runs alone
    alone = trend_with(pd.DataFrame(columns=["as_of", "run_at", "report"]), [(previous, ""),
                                                                              (current, "")])
    assert alone["value"].tolist() == pytest.approx([0.30, 0.20])


def test_the_since_report_shows_the_reports_up_to_this_one(tmp_path):
    from toolkit.analysis.since import since_last_report
    path = tmp_path / HISTORY_FILE
    for as_of, value in (("2025-12-31", 0.25), ("2026-01-31", 0.30), ("2026-03-31", 0.40)):
        append_history(path, _card(as_of, as_of + "T23:00:00", value), report=as_of)
    previous = _card("2026-01-31", "2026-01-31T23:00:00", 0.30)
    current = _card("2026-02-28", "2026-02-28T23:00:00", 0.35, 150, 0.27, 0.43)
    trend = since_last_report(previous, current, history=path).tables["trend"]
    # the March run came later than this one (as by `funnel compare` of old runs): left out
    assert trend["as_of"].tolist() == ["2025-12-31", "2026-01-31", "2026-02-28"]
    assert trend["value"].tolist() == pytest.approx([0.25, 0.30, 0.35])
    path.write_text("name,email\nx,y\n", encoding="utf-8")
    broken = since_last_report(previous, current, history=path)
    assert broken.problems["trend"] == "history_unreadable"
    assert broken.tables["trend"]["as_of"].tolist() == ["2026-01-31", "2026-02-28"]


def test_the_page_shows_the_trend_in_dutch_with_n_a_for_what_was_not_kept(tmp_path):
    from toolkit.analysis.since import since_last_report
    from toolkit.present.format import MISSING, formatter
    from toolkit.present.since import since_page
    path = tmp_path / HISTORY_FILE
    path.write_text("as_of,run_at,report,conv_a_b,conv_a_b month\n"
                    "2025-12-31,2026-01-01T09:00:00,r0,0.25,2025-12\n", encoding="utf-8")
    previous = _card("2026-01-31", "2026-01-31T23:00:00", 0.30, 120, 0.22, 0.39)
    current = _card("2026-02-28", "2026-02-28T23:00:00", 0.35, 150, 0.27, 0.43)
    page = since_page(since_last_report(previous, current, history=path), formatter("nl"),
                      phase_labels={"A": "A", "B": "B"})
    section = next(s for s in page["sections"] if s.title == "De scorekaart over de rapporten")
    frame = section.table.to_frame()
    assert len(frame) == 3
    values = frame.iloc[:, 3].tolist()
    assert values[0] == "25,0%"  # no interval kept in the old line: the value alone
    assert values[2] == "35,0% (27,0–43,0%)"
    assert frame.iloc[0, 4] == MISSING and frame.iloc[2, 4] == "150"
    assert frame.iloc[2, 5] == "+5,0 procentpunt"


def test_the_trend_keeps_the_scorecards_order_not_the_alphabet():
    from toolkit.analysis.since import since_last_report
    from toolkit.present.format import formatter
    from toolkit.present.since import since_page

    def state(as_of, value):
        card = _card(as_of, as_of + "T23:00:00", value)
        first = dict(card["scorecard"][0], kpi="conversion_target_lead", label="Conversion T → L")
        return {**card, "scorecard": [first, *card["scorecard"]]}  # target -> lead comes first
    page = since_page(since_last_report(state("2026-01-31", 0.3), state("2026-02-28", 0.4)),
                      formatter("en"), phase_labels={})
    section = next(s for s in page["sections"] if s.title == "The scorecard over the reports")
    kpis = section.table.to_frame().iloc[:, 0].tolist()
    assert kpis[0] == kpis[1] != kpis[2] == kpis[3]  # two runs of each, the first KPI first
    assert "T" in kpis[0] and "A" in kpis[2]
