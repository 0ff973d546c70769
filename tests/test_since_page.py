"""The page "Since the last report" (toolkit.report.loop, toolkit.present.since): written in both
languages and both editions it passes the report checks, states each number once, and `funnel
compare` writes it for any two runs from their run states alone."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from toolkit.analysis.run_state import write_run_state
from toolkit.analysis.since import since_last_report
from toolkit.cli import main
from toolkit.report import check_report
from toolkit.report.consistency import check_consistency
from toolkit.report.loop import find_previous, render_since

CARD = {"kpi": "conversion_a_b", "label": "A → B", "unit": "%", "lcl": None, "ucl": None}


def _states():
    chain = lambda *h: [[i, x] for i, x in enumerate(h)]  # noqa: E731
    previous = {"schema": "funnel-run-state", "version": 1, "engagement": "e",
                "as_of": "2025-03-31T00:00:00", "run_at": "2025-04-01T10:00:00+00:00",
                "scorecard": [{**CARD, "period": "2025-01", "value": 0.30, "trials": 100,
                               "successes": 30}],
                "findings": [{"key": "volume|a|||", "area": "volume", "from_phase": "a"}],
                "actions": [], "records": {"R-1": chain("x"), "R-2": chain("y"),
                                           "R-3": chain("z")}}
    current = {**previous, "as_of": "2025-06-30T00:00:00", "run_at": "2025-07-01T10:00:00+00:00",
               "scorecard": [{**CARD, "period": "2025-04", "value": 0.50, "trials": 100,
                              "successes": 50}],
               "findings": [{"key": "bottleneck|a|b||", "area": "bottleneck", "from_phase": "a",
                             "to_phase": "b"}],
               "records": {"R-1": chain("x"), "R-2": chain("y-edited"), "R-4": chain("w")},
               "phases": {"a": "Lead", "b": "Offer"}, "client": "Client <b>&</b>",
               "evaluations": [{"action_id": "leak-a-b", "what_code": "leak", "status": "started",
                                "start": "2025-01-01", "from_phase": "a", "to_phase": "b",
                                "verdict": "too_early", "n_after": 120, "records_needed": 300,
                                "expected_by": "2025-10-01", "restated_left_out": 1}]}
    # the restated record's first link is before the previous as-of (minute 0)
    return previous, current


@pytest.mark.parametrize("language", ["nl", "en"])
@pytest.mark.parametrize("edition", ["client", "training"])
def test_the_page_passes_the_report_checks_in_both_languages_and_editions(tmp_path, language,
                                                                          edition):
    previous, current = _states()
    since = since_last_report(previous, current)
    page = render_since(tmp_path, since, current, language=language, edition=edition,
                        date=dt.date(2025, 7, 1))
    (tmp_path / "index.html").write_text('<html><body><a href="since.html">x</a></body></html>',
                                         encoding="utf-8")
    assert check_report(tmp_path / "index.html", browser=False).ok
    text = page.read_text(encoding="utf-8")
    # the client's name is escaped, never markup
    assert "<b>&" not in text and "&lt;b&gt;" in text
    if language == "nl":
        assert "Sinds het vorige rapport" in text
        assert "te vroeg om te beoordelen: 120 van 300 records, verwacht rond 1 oktober 2025" in text
        assert "ja (p = 0,004)" in text  # 30/100 against 50/100 (tests/test_since.py)
    else:
        assert "too early to judge: 120 of 300 records, expected by 1 October 2025" in text
        assert "yes (p = 0.004)" in text
    # the restated, added and removed records are counted (one each) and listed by code
    counts = dict(zip(since.tables["data changes"]["change"],
                      since.tables["data changes"]["records"], strict=True))
    assert counts == {"added": 1, "removed": 1, "restated": 1, "in both": 2}
    assert "R-2" in text and "R-4" in text and "R-3" in text


def test_the_consistency_check_covers_the_page():
    previous, current = _states()
    since = since_last_report(previous, current)
    assert check_consistency({}, since=since).empty
    # a count that disagrees with the page's own list is two values for one fact
    tables = dict(since.tables)
    counts = tables["data changes"].copy()
    counts.loc[counts["change"] == "restated", "records"] = 5
    tables["data changes"] = counts
    broken = type(since)(tables=tables, previous_as_of=since.previous_as_of, as_of=since.as_of)
    found = check_consistency({}, since=broken)
    assert list(found["code"]) == ["two_values"]


def test_funnel_compare_writes_the_page_for_any_two_runs(tmp_path, capsys):
    previous, current = _states()
    old, new = tmp_path / "2025-03-31", tmp_path / "2025-06-30"
    old.mkdir()
    new.mkdir()
    write_run_state(old, previous)
    write_run_state(new, current)
    assert main(["compare", str(old), str(new), "--language", "en"]) == 0
    page = tmp_path / "2025-06-30-since-2025-03-31" / "since.html"
    assert page.is_file() and "Since the last report" in page.read_text(encoding="utf-8")
    # a folder without a run state is refused with the fix
    (tmp_path / "empty").mkdir()
    assert main(["compare", str(tmp_path / "empty"), str(new)]) == 2
    assert "run-state.json.gz" in capsys.readouterr().err


def test_the_previous_run_is_found_by_one_rule(tmp_path):
    previous, current = _states()
    for name, state in (("a", previous), ("b", current), ("c", {**current, "engagement": "x"})):
        (tmp_path / name).mkdir()
        write_run_state(tmp_path / name, state)
    # a new folder beside them: the newest report of the same engagement ("b", not "x"'s "c")
    state, folder = find_previous(tmp_path / "new", "e")
    assert folder.name == "b" and state["run_at"] == current["run_at"]
    # a rerun into "a" compares with what "a" held; --since wins over both
    assert find_previous(tmp_path / "a", "e")[1].name == "a"
    assert find_previous(tmp_path / "a", "e", since=tmp_path / "b")[1].name == "b"
    assert find_previous(tmp_path / "elsewhere" / "new", "e") is None


def test_funnel_run_appends_the_report_history_beside_its_folder(tmp_path, monkeypatch):
    # the report itself is stubbed: it leaves a run state in its folder, as build_report does
    from toolkit import cli, report
    from toolkit.analysis.history import HISTORY_FILE, read_history

    previous, current = _states()
    seen = []

    def build_report(engagement, *, out_dir, previous=None, **options):
        seen.append(previous)
        Path(out_dir).mkdir(parents=True)
        write_run_state(out_dir, {**current, "engagement": engagement.name})
        return {"index": Path(out_dir) / "index.html", "workbook": "w", "manifest": "m"}

    monkeypatch.setattr(report, "build_report", build_report)
    demo = str(Path(__file__).resolve().parents[1] / "data" / "demo" / "engagement.yaml")
    for name in ("first", "second"):
        assert cli.main(["run", demo, "--out", str(tmp_path / name), "--quiet"]) == 0
    history = read_history(tmp_path / HISTORY_FILE)
    assert list(history["report"]) == ["first", "second"]
    # the second run found the first beside it (same engagement, measured no later)
    assert seen[0] is None and seen[1] is not None


def test_the_page_writes_kpis_p_values_and_intervals_as_the_rest_of_the_report():
    """Seen on the demo's follow-up page: English KPI labels on the Dutch page ('Conversion Lead →
    Offer within 90 days'), 'p = > 0,999', and an interval too wide for its column (the unit
    three times: '+16,9 procentpunt (+10,0 procentpunt tot +24,1 procentpunt)')."""
    from toolkit.present.format import formatter
    from toolkit.present.since import since_page

    previous, current = _states()
    label = "Conversion Lead → Offer within 90 days"  # as the toolkit writes its own KPI
    for state, value in ((previous, 0.30), (current, 0.30)):
        state["scorecard"] = [{**state["scorecard"][0], "label": label, "value": value,
                               "successes": 30}]
    current["evaluations"][0].update({"verdict": "worked", "estimate": 0.169, "ci_low": 0.10,
                                      "ci_high": 0.241, "rate_before": 0.236,
                                      "rate_after": 0.405, "p_value": 0.0001})
    since = since_last_report(previous, current)
    page = since_page(since, formatter("nl"), phase_labels=current["phases"])
    cells = [cell.text for section in page["sections"] if section.table is not None
             for row in section.table.rows for cell in row]
    assert "Conversie Lead → Offer binnen 90 dagen" in cells
    assert "nee, binnen het toeval (p > 0,999)" in cells  # 30/100 against 30/100
    assert "+16,9 procentpunt (+10,0 tot +24,1)" in cells
