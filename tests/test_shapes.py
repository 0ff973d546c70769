"""Input shapes as DESIGN.md states them (snapshot, wide, status flags), each rule on a hand-made
export whose answer is worked out by hand in the comments."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import reconciles, write_engagement

from toolkit import Engagement
from toolkit.base.exceptions import DataError
from toolkit.measure.audit import audit as run_audit
from toolkit.measure.funnel import funnel, reached_at, win_rate
from toolkit.measure.kpis import compute_kpis


def load(path):
    return Engagement.from_yaml(path, use_cache=False)


SNAPSHOT_COLUMNS = {"record_id": "Deal", "current_stage": "Fase", "created_at": "Aangemaakt",
                    "closed_at": "Gesloten"}


def snapshot(tmp_path, lines, *, header="Deal;Fase;Aangemaakt;Gesloten", columns=None, **extra):
    (tmp_path / "deals.csv").write_text(header + "\n" + "\n".join(lines) + "\n")
    source = {"name": "deals", "path": "deals.csv", "shape": "snapshot", "date_format": "dmy",
              "columns": columns or SNAPSHOT_COLUMNS, **extra}
    return load(write_engagement(tmp_path, [source], as_of="2025-12-31"))


# --- snapshot -----------------------------------------------------------------------------------

def test_snapshot_lost_without_lost_at_stage_stays_in_the_funnel(tmp_path):
    # A won, B and D lost (no lost-at column: unknown losing phase), C open at Offerte.
    e = snapshot(tmp_path, ["A;Gewonnen;10-01-2025;05-03-2025", "B;Verloren;15-01-2025;01-02-2025",
                            "C;Offerte;01-02-2025;", "D;Verloren;20-01-2025;25-01-2025"])
    reconciles(e)
    f = funnel(e).set_index("phase")
    # every record entered the first phase: 4; the lost ones were lost there
    assert f.loc["target", "reached"] == 4
    assert f.loc["lead", "reached"] == 2 and f.loc["order", "reached"] == 1
    rec = e.records.set_index("record_id")
    assert rec.loc[["B", "D"], "lost_at_phase"].tolist() == ["target", "target"]
    assert any("2 lost record(s) do not say at which phase" in n for n in e.notes)
    # win rate over all records = 1 won / (1 won + 2 lost) = 33.3%, not 100%
    w = win_rate(e)
    assert (w["successes"].sum(), w["n"].sum()) == (1, 3)
    assert win_rate(e, phase="target")["rate"].iloc[0] == pytest.approx(1 / 3)


def test_snapshot_dates_the_entry_at_creation_and_the_order_at_close(tmp_path):
    e = snapshot(tmp_path, ["A;Gewonnen;10-01-2025;05-03-2025", "C;Offerte;01-02-2025;"])
    r = reached_at(e)
    # entry at created_at, passed phases at the only date there is (creation), won at closed_at
    assert r.loc["A", "target"] == pd.Timestamp("2025-01-10")
    assert r.loc["A", "proposal"] == pd.Timestamp("2025-01-10")
    assert r.loc["A", "order"] == pd.Timestamp("2025-03-05")
    assert r.loc["C", "target"] == r.loc["C", "proposal"] == pd.Timestamp("2025-02-01")
    assert pd.isna(r.loc["C", "order"])
    assert not e.timing_known


def test_snapshot_duration_kpis_say_unknown_not_zero_days(tmp_path):
    from toolkit.measure.kpis import KPI
    e = snapshot(tmp_path, ["A;Gewonnen;10-01-2025;05-03-2025", "C;Offerte;01-02-2025;"])
    k = compute_kpis(e, kpis=[KPI(name="d", kind="duration", from_phase="lead",
                                  to_phase="proposal")])
    assert k["value"].isna().all()
    assert "snapshot" in str(k["period"].iloc[0])


def test_snapshot_created_phase_dates_a_later_phase(tmp_path):
    e = snapshot(tmp_path, ["A;Gewonnen;10-01-2025;05-03-2025", "B;Verloren;15-01-2025;01-02-2025"],
                 created_phase="lead")
    rec = e.records.set_index("record_id")
    assert rec.loc["B", "lost_at_phase"] == "lead"
    assert reached_at(e).loc["B", "lead"] == pd.Timestamp("2025-01-15")


def test_snapshot_status_wins_over_the_stage_name(tmp_path):
    # X: stage says won, status says lost; Y: stage says lost, status open; Z: only a status.
    e = snapshot(tmp_path, ["X;Gewonnen;10-01-2025;05-03-2025;lost",
                            "Y;Verloren;15-01-2025;;Open", "Z;;16-01-2025;20-02-2025;WON"],
                 header="Deal;Fase;Aangemaakt;Gesloten;Status",
                 columns={**SNAPSHOT_COLUMNS, "status": "Status"})
    reconciles(e)
    rec = e.records.set_index("record_id")
    assert rec["outcome"].to_dict() == {"X": "lost", "Y": "open", "Z": "won"}
    # X's won stage does not make it reach the last phase; it was lost at the phase before
    assert funnel(e).set_index("phase").loc["order", "reached"] == 1
    assert rec.loc["X", "lost_at_phase"] == "proposal"


def test_snapshot_won_closed_flags_win_over_the_stage_name(tmp_path):
    e = snapshot(tmp_path, ["X;Gewonnen;10-01-2025;05-03-2025;false;true",
                            "Y;Lead;15-01-2025;05-03-2025;true;true",
                            "Z;Verloren;15-01-2025;;false;false"],
                 header="Deal;Fase;Aangemaakt;Gesloten;Won;Closed",
                 columns={**SNAPSHOT_COLUMNS, "is_won": "Won", "is_closed": "Closed"})
    assert e.records.set_index("record_id")["outcome"].to_dict() == {
        "X": "lost", "Y": "won", "Z": "open"}


def test_snapshot_with_only_a_status_has_no_phase_funnel_but_created_to_won(tmp_path):
    (tmp_path / "deals.csv").write_text("Id;Status;Created;Closed\n1;Won;01-01-2025;01-02-2025\n"
                                        "2;Lost;02-01-2025;03-01-2025\n3;Open;03-01-2025;\n"
                                        "4;Deleted;03-01-2025;\n")
    source = {"name": "deals", "path": "deals.csv", "shape": "snapshot", "date_format": "dmy",
              "columns": {"record_id": "Id", "status": "Status", "created_at": "Created",
                          "closed_at": "Closed"}}
    e = load(write_engagement(tmp_path, [source], as_of="2025-12-31"))
    reconciles(e)
    assert e.records["outcome"].tolist() == ["won", "lost", "open"]
    assert "status 'Deleted' is not won, lost or open" in e.quarantine["reason"].iloc[0]
    f = funnel(e).set_index("phase")
    assert f.loc["target", "reached"] == 3 and f.loc["order", "reached"] == 1


# --- wide ---------------------------------------------------------------------------------------

def wide(tmp_path, lines, *, header="Deal;Aangemaakt;Lead op;Offerte op;Gewonnen op;Verloren op",
         stage_columns=None, columns=None, **extra):
    (tmp_path / "wide.csv").write_text(header + "\n" + "\n".join(lines) + "\n")
    source = {"name": "wide", "path": "wide.csv", "shape": "wide", "date_format": "dmy",
              "columns": columns or {"record_id": "Deal", "created_at": "Aangemaakt"},
              "stage_columns": stage_columns or {"Lead op": "Lead", "Offerte op": "Offerte",
                                                 "Gewonnen op": "Gewonnen",
                                                 "Verloren op": "Verloren"}, **extra}
    return load(write_engagement(tmp_path, [source], as_of="2025-12-31"))


def test_wide_status_column_wins_over_stage_dates(tmp_path):
    # W: won date and status won; L: won date but status lost (not an order); O: only lead.
    e = wide(tmp_path, ["W;01-01-2025;02-01-2025;;01-03-2025;;won",
                        "L;01-01-2025;02-01-2025;03-01-2025;10-03-2025;;lost",
                        "O;05-01-2025;06-01-2025;;;;open"],
             header="Deal;Aangemaakt;Lead op;Offerte op;Gewonnen op;Verloren op;Status",
             columns={"record_id": "Deal", "created_at": "Aangemaakt", "status": "Status"})
    reconciles(e)
    assert e.records.set_index("record_id")["outcome"].to_dict() == {
        "W": "won", "L": "lost", "O": "open"}
    assert funnel(e).set_index("phase").loc["order", "reached"] == 1
    assert any("the flags count" in n for n in e.notes)


def test_wide_won_date_before_the_first_date_stays_won_and_is_audited(tmp_path):
    # D won on 01-03 but its lead date is 03-03: still won (one order, as the file says), audited.
    e = wide(tmp_path, ["D;01-01-2025;03-03-2025;;01-03-2025;", "E;01-01-2025;02-01-2025;;;"])
    assert e.records.set_index("record_id").loc["D", "outcome"] == "won"
    findings = run_audit(e).findings.set_index("check")
    assert findings.loc["won_before_first_date", "records"] == 1


def test_wide_creation_date_that_cannot_be_used_is_left_empty_and_said(tmp_path):
    """D's creation date does not exist (31 February), E's is before 1990: both records keep their
    stage dates, their creation date is empty, and a note names the column and the rows (it was
    left empty without a word)."""
    e = wide(tmp_path, ["D;31-02-2025;02-01-2025;;;", "E;01-01-1989;02-01-2025;;;",
                        "F;01-01-2025;02-01-2025;;;", "G;;02-01-2025;;;"])
    reconciles(e)
    created = e.records.set_index("record_id")["created_at"]
    assert created[["D", "E", "G"]].isna().all() and created["F"] == pd.Timestamp("2025-01-01")
    assert len(e.events) == 4 and e.quarantine.empty
    note = [n for n in e.notes if "'Aangemaakt'" in n]
    assert len(note) == 1, e.notes
    # a blank creation date (G) is no problem of the file: only D and E are named
    assert note[0].startswith("wide.csv: 2 date(s) in column 'Aangemaakt' could not be used")
    assert "row 2: " in note[0] and "row 3: " in note[0] and "row 5" not in note[0]


def test_wide_stage_columns_the_other_way_round(tmp_path):
    e = wide(tmp_path, ["D;01-01-2025;02-01-2025;;01-03-2025;"],
             stage_columns={"Lead": "Lead op", "Offerte": "Offerte op", "Gewonnen": "Gewonnen op",
                            "Verloren": "Verloren op"})
    assert e.records["outcome"].tolist() == ["won"]
    assert any("written stage -> column" in n for n in e.notes)


def test_wide_stage_columns_naming_no_column_is_refused_with_the_fix(tmp_path):
    with pytest.raises(DataError, match=r"no such column.*column header>: <CRM stage>"):
        wide(tmp_path, ["D;01-01-2025;02-01-2025;;01-03-2025;"],
             stage_columns={"Lead op": "Lead", "Engaging": "Offerte"})


def test_snapshot_measures_creation_to_won_but_no_step_between(tmp_path):
    from toolkit.measure.kpis import KPI, time_to_convert
    # A: created 10-01, won 05-03 = 54 days; E: created 01-02, won 03-03 = 30 days
    e = snapshot(tmp_path, ["A;Gewonnen;10-01-2025;05-03-2025", "E;Gewonnen;01-02-2025;03-03-2025",
                            "C;Offerte;01-02-2025;"])
    k = compute_kpis(e, kpis=[KPI(name="whole", kind="duration", from_phase="target",
                                  to_phase="order"),
                              KPI(name="step", kind="duration", from_phase="lead",
                                  to_phase="opportunity")])
    whole, step = k.set_index("kpi").loc["whole"], k.set_index("kpi").loc["step"]
    assert whole["value"] in (30.0, 54.0) and whole["successes"] == 2
    assert pd.isna(step["value"]) and "snapshot" in step["period"]
    ttc = time_to_convert(e)
    assert ttc[["from_phase", "to_phase"]].values.tolist() == [["target", "order"]]


def test_snapshot_duration_row_split_by_a_segment_names_no_nan(tmp_path):
    from toolkit.cli.kpis import format_kpis as _format_kpis
    from toolkit.measure.kpis import KPI
    e = snapshot(tmp_path, ["A;Gewonnen;10-01-2025;05-03-2025;web", "C;Offerte;01-02-2025;;mail"],
                 header="Deal;Fase;Aangemaakt;Gesloten;Kanaal", attributes={"channel": "Kanaal"})
    k = compute_kpis(e, kpis=[KPI(name="d", kind="duration", from_phase="lead",
                                  to_phase="proposal")], by="channel")
    assert "nan" not in _format_kpis(k).to_string().lower()


def test_kpis_by_owner_keep_the_deal_owner_apart_from_the_kpi_owner(tmp_path):
    e = snapshot(tmp_path, ["A;Gewonnen;10-01-2025;05-03-2025;Ann", "C;Offerte;01-02-2025;;Bob"],
                 header="Deal;Fase;Aangemaakt;Gesloten;Eigenaar", attributes={"owner": "Eigenaar"},
                 )
    k = compute_kpis(e, by="owner")
    assert set(k["owner"]) <= {"(none)", "(all)"} | set(e.records["owner"])
    assert "kpi_owner" in k.columns
    assert not k.duplicated(["kpi", "owner", "period"]).any()


def test_attribute_named_like_a_result_column_is_refused(tmp_path):
    from toolkit.base.exceptions import ConfigError
    with pytest.raises(ConfigError, match=r"attribute name 'label' is also a column.*Fix: rename"):
        snapshot(tmp_path, ["A;Gewonnen;10-01-2025;05-03-2025;x"],
                 header="Deal;Fase;Aangemaakt;Gesloten;Label", attributes={"label": "Label"})


# --- categories ---------------------------------------------------------------------------------

def test_blank_markers_are_missing_and_spellings_are_folded(tmp_path):
    # Kanaal: 'Select' (a form's placeholder) x2, '-' x1, 'google' x1, 'Google' x2, 'Call In' x1,
    # 'Call-in' x1 -> missing 3; Google 3 (folded 1); one Call-in/Call In category (tie: the first
    # in sort order, 'Call In', is kept).
    lines = [f"D{i};Lead;0{i}-01-2025;;{v}" for i, v in enumerate(
        ["Select", "Select", "-", "google", "Google", "Google", "Call In", "Call-in"], start=1)]
    (tmp_path / "deals.csv").write_text("Deal;Fase;Aangemaakt;Gesloten;Kanaal\n"
                                        + "\n".join(lines) + "\n")
    source = {"name": "deals", "path": "deals.csv", "shape": "snapshot", "date_format": "dmy",
              "columns": SNAPSHOT_COLUMNS, "attributes": {"channel": "Kanaal"}}
    e = load(write_engagement(tmp_path, [source], as_of="2025-12-31",
                              missing_values=["Select", "-", "n/a"]))
    assert e.records["channel"].value_counts().to_dict() == {"Google": 3, "Call In": 2}
    assert e.records["channel"].isna().sum() == 3
    assert any("3 value(s) of `channel` are a blank marker" in n for n in e.notes)
    assert any("2 value(s) folded" in n and "'google' -> 'Google'" in n for n in e.notes)


def test_folding_can_be_switched_off(tmp_path):
    (tmp_path / "deals.csv").write_text("Deal;Fase;Aangemaakt;Gesloten;Kanaal\n"
                                        "D1;Lead;01-01-2025;;google\nD2;Lead;02-01-2025;;Google\n")
    source = {"name": "deals", "path": "deals.csv", "shape": "snapshot", "date_format": "dmy",
              "columns": SNAPSHOT_COLUMNS, "attributes": {"channel": "Kanaal"}}
    e = load(write_engagement(tmp_path, [source], as_of="2025-12-31", fold_categories=False))
    assert sorted(e.records["channel"]) == ["Google", "google"]


# --- several files, one set of records ------------------------------------------------------------

def test_a_closed_deals_file_adds_the_won_phase_to_the_lead_files_records(tmp_path):
    # leads.csv: L1, L2, L3 created in January (snapshot, a status only); won.csv: L1 won 10-03,
    # L3 won 20-02 with amounts, and X9, a deal the lead file does not hold (quarantined).
    (tmp_path / "leads.csv").write_text("Id;Created;Status\nL1;05-01-2025;open\n"
                                        "L2;06-01-2025;lost\nL3;07-01-2025;open\n")
    (tmp_path / "won.csv").write_text("Id;Closed;Amount\nL1;10-03-2025;1000\nL3;20-02-2025;500\n"
                                      "X9;01-03-2025;50\n")
    phases = [{"key": "mql", "label": "MQL"}, {"key": "won_deal", "label": "Won"}]
    path = write_engagement(tmp_path, [
        {"name": "leads", "path": "leads.csv", "shape": "snapshot", "date_format": "dmy",
         "columns": {"record_id": "Id", "created_at": "Created", "status": "Status"}},
        {"name": "won", "path": "won.csv", "shape": "history", "date_format": "dmy",
         "stage": "Won", "adds_to": "leads",
         "columns": {"record_id": "Id", "changed_at": "Closed", "value": "Amount"}}],
        phases=phases, stage_mapping={"Won": "won"}, as_of="2025-12-31")
    e = load(path)
    reconciles(e)
    rec = e.records.set_index("record_id")
    assert len(rec) == 3
    assert rec["outcome"].to_dict() == {"L1": "won", "L2": "lost", "L3": "won"}
    assert rec.loc["L1", "closed_at"] == pd.Timestamp("2025-03-10")
    assert rec.loc["L3", "value"] == 500
    r = reached_at(e)
    assert r.loc["L1", "mql"] == pd.Timestamp("2025-01-05")
    assert r.loc["L1", "won_deal"] == pd.Timestamp("2025-03-10")
    q = e.quarantine
    assert q.loc[q["record_id"] == "X9", "reason"].str.contains("not in source 'leads'").all()


def test_adds_to_must_name_another_source(tmp_path):
    from toolkit.base.exceptions import ConfigError
    (tmp_path / "won.csv").write_text("Id;Closed\nL1;10-03-2025\n")
    path = write_engagement(tmp_path, [
        {"name": "won", "path": "won.csv", "shape": "history", "stage": "Gewonnen",
         "adds_to": "leeds", "columns": {"record_id": "Id", "changed_at": "Closed"}}])
    with pytest.raises(ConfigError, match=r"'leeds' is not another source"):
        load(path)


def test_lookup_table_adds_attributes_and_reports_unmatched_keys(tmp_path):
    # deals: D1 agent a1, D2 agent a2, D3 agent zz (not in agents.csv), D4 no agent.
    # agents.csv: a1 -> North, a2 -> South, a2 again (repeated key: quarantined), a blank key.
    (tmp_path / "deals.csv").write_text(
        "Deal;Fase;Aangemaakt;Gesloten;Agent\nD1;Lead;01-01-2025;;a1\nD2;Lead;02-01-2025;;a2\n"
        "D3;Lead;03-01-2025;;zz\nD4;Lead;04-01-2025;;\n")
    (tmp_path / "agents.csv").write_text("Agent,Team\na1,North\na2,South\na2,East\n,West\n")
    source = {"name": "deals", "path": "deals.csv", "shape": "snapshot", "date_format": "dmy",
              "columns": SNAPSHOT_COLUMNS, "attributes": {"agent": "Agent"}}
    e = load(write_engagement(tmp_path, [source], as_of="2025-12-31", lookups=[
        {"path": "agents.csv", "key": "Agent", "on": "agent", "attributes": {"team": "Team"}}]))
    reconciles(e)
    rec = e.records.set_index("record_id")
    assert len(rec) == 4  # nothing dropped
    assert rec["team"].tolist()[:2] == ["North", "South"] and rec["team"].iloc[2:].isna().all()
    assert any("1 record(s) have a `agent` with no row in this lookup" in n for n in e.notes)
    reasons = e.quarantine.loc[e.quarantine["file"].str.endswith("agents.csv"), "reason"].tolist()
    assert sorted(reasons) == ["missing key in column 'Agent'", "repeated key (first at row 3)"]


# --- leakage guards ---------------------------------------------------------------------------

def _leaky_engagement(tmp_path):
    # 120 deals: 40 won, 60 lost, 20 open. `won_reason` is filled for every won deal only (entered
    # at closing); `stage_now` is 'Signed' for won and 'Dropped' for lost (derived from the
    # outcome); `channel` is a real segment (web/mail alternating), blank for every fifth deal;
    # the value is 0 for every lost deal.
    rows = []
    for i in range(120):
        outcome = "won" if i < 40 else "lost" if i < 100 else "open"
        stage = {"won": "Gewonnen", "lost": "Verloren", "open": "Lead"}[outcome]
        closed = "" if outcome == "open" else "01-06-2024"
        reason = "price" if outcome == "won" else ""
        now = {"won": "Signed", "lost": "Dropped", "open": "Working"}[outcome]
        channel = "" if i % 5 == 0 else ("web" if i % 2 else "mail")
        value = 0 if outcome == "lost" else 1000 + i
        rows.append(f"D{i};{stage};01-01-2024;{closed};{reason};{now};{channel};{value}")
    header = "Deal;Fase;Aangemaakt;Gesloten;Reden;Nu;Kanaal;Bedrag"
    return snapshot(tmp_path, rows, header=header,
                    columns={**SNAPSHOT_COLUMNS, "value": "Bedrag"},
                    attributes={"won_reason": "Reden", "stage_now": "Nu", "channel": "Kanaal"})


def test_leaking_attributes_are_refused_with_a_reason(tmp_path):
    from toolkit.analysis.leakage import leaking_attributes, value_leaks
    e = _leaky_engagement(tmp_path)
    refused = leaking_attributes(e.records, ["won_reason", "stage_now", "channel"])
    assert set(refused) == {"won_reason", "stage_now"}
    reason = refused["won_reason"]  # a code with its values, and the sentence written from them
    assert (reason.code, reason.values) == ("filled_at_outcome",
                                            {"share": 1.0, "outcome": "won", "others": 0.0})
    assert "filled in for 100% of the won records but at most 0% of the others" in reason
    assert "0 or blank for 100% of lost deals" in value_leaks(e.records)


def test_scan_never_ranks_leakage_or_missing_as_fruit(tmp_path):
    from toolkit.analysis.diagnosis import segment_scan
    from toolkit.present.narrative import _scan_lines
    e = _leaky_engagement(tmp_path)
    with pytest.warns(UserWarning, match="snapshot"):
        scan = segment_scan(e, min_n=5)
    assert set(scan["attribute"]) == {"channel"}  # no won_reason, stage_now or value_band
    assert set(scan.attrs["refused"]) == {"won_reason", "stage_now"}
    assert not scan.loc[scan["segment"] == "(missing)", "flagged"].any()
    assert scan.loc[scan["segment"] == "(missing)", "p_adjusted"].isna().all()
    lines = _scan_lines(scan)
    # attributes by their label (a role the method knows, else the key in words)
    assert any("Won reason is not scanned: filled in for 100% of the won" in line for line in lines)
    assert any(line.startswith("Data quality: Channel is blank for") for line in lines)
    # in Dutch the reason from its code, not the English sentence
    from toolkit.present.narrative import _Words
    dutch = _scan_lines(scan, _Words("nl"))
    assert any("Won reason is niet gescand: ingevuld bij 100% van de records met uitkomst "
               "gewonnen maar bij hoogstens 0% van de andere" in line for line in dutch), dutch


def test_a_lead_list_without_dates_is_refused_without_inventing_one(tmp_path):
    (tmp_path / "leads.csv").write_text("Id;Converted\n1;1\n2;0\n")
    source = {"name": "leads", "path": "leads.csv", "shape": "snapshot",
              "columns": {"record_id": "Id", "is_won": "Converted", "is_closed": "Converted"}}
    with pytest.raises(DataError, match=r"does not invent a date.*Fix: set .*created_at"):
        load(write_engagement(tmp_path, [source], as_of="2025-12-31"))


def test_folding_note_never_quotes_free_text(tmp_path):
    # 60 distinct free-text reasons, two of them spelled twice: the folding is counted, but the
    # note quotes no value (free text can name people).
    lines = [f"D{i};Lead;01-01-2025;;reason {i} by Anna" for i in range(60)]
    lines += ["D60;Lead;01-01-2025;;Reason 1 by Anna", "D61;Lead;01-01-2025;;REASON 2 BY ANNA"]
    (tmp_path / "deals.csv").write_text("Deal;Fase;Aangemaakt;Gesloten;Reden\n"
                                        + "\n".join(lines) + "\n")
    source = {"name": "deals", "path": "deals.csv", "shape": "snapshot", "date_format": "dmy",
              "columns": SNAPSHOT_COLUMNS, "attributes": {"reason": "Reden"}}
    e = load(write_engagement(tmp_path, [source], as_of="2025-12-31"))
    note = next(n for n in e.notes if "spelled more than one way" in n)
    assert "2 value(s) folded" in note and "Anna" not in note


# --- history + per-record file: the file's won/closed flags win over the history ---------------

def test_history_flags_in_the_records_file_win(tmp_path):
    # History (what the stage rows say)         records file (the CRM's flags)
    #   A Lead 01-01, Offerte 01-02, Gewonnen 01-03   closed, not won, closed 15-03  -> lost
    #   B Lead 05-01, Offerte 10-02 (open)            won, closed 20-02             -> won
    #   C Lead 01-01, Verloren 01-02 (lost)           not closed                    -> open
    #   D Lead 01-01, Gewonnen 01-04 (won)            won, closed 01-04             -> won (agree)
    #   E Lead 02-01, Offerte 03-03 (open)            won, no close date            -> won at 03-03
    (tmp_path / "history.csv").write_text(
        "Deal;Fase;Datum\nA;Lead;01-01-2025\nA;Offerte;01-02-2025\nA;Gewonnen;01-03-2025\n"
        "B;Lead;05-01-2025\nB;Offerte;10-02-2025\nC;Lead;01-01-2025\nC;Verloren;01-02-2025\n"
        "D;Lead;01-01-2025\nD;Gewonnen;01-04-2025\nE;Lead;02-01-2025\nE;Offerte;03-03-2025\n")
    (tmp_path / "deals.csv").write_text(
        "Id;IsClosed;IsWon;CloseDate\nA;true;false;15-03-2025\nB;true;true;20-02-2025\n"
        "C;false;false;\nD;true;true;01-04-2025\nE;true;true;\n")
    source = {"name": "deals", "path": "history.csv", "shape": "history", "date_format": "dmy",
              "columns": {"record_id": "Deal", "stage": "Fase", "changed_at": "Datum"},
              "records": {"path": "deals.csv", "date_format": "dmy",
                          "columns": {"record_id": "Id", "is_closed": "IsClosed",
                                      "is_won": "IsWon", "closed_at": "CloseDate"}}}
    e = load(write_engagement(tmp_path, [source], as_of="2025-12-31"))
    reconciles(e)
    rec = e.records.set_index("record_id")
    assert rec["outcome"].to_dict() == {"A": "lost", "B": "won", "C": "open", "D": "won",
                                        "E": "won"}
    # A: its Gewonnen row is not an order; lost at the highest phase before, on the file's date
    assert rec.loc["A", "lost_at_phase"] == "proposal"
    assert rec.loc["A", "closed_at"] == pd.Timestamp("2025-03-15")
    r = reached_at(e)
    assert pd.isna(r.loc["A", "order"])
    assert r.loc["B", "order"] == pd.Timestamp("2025-02-20")  # the file's close date
    assert r.loc["E", "order"] == pd.Timestamp("2025-03-03")  # no close date: its latest date
    assert pd.isna(rec.loc["C", "closed_at"]) and pd.isna(rec.loc["C", "lost_at_phase"])
    assert funnel(e).set_index("phase").loc["order", "reached"] == 3  # B, D, E
    w = win_rate(e)  # 3 won / (3 won + 1 lost)
    assert (w["successes"].iloc[0], w["n"].iloc[0]) == (3, 4)
    # the disagreements stay visible: in the notes and the audit
    assert sorted(e.outcome_mismatches["record_id"]) == ["A", "B", "C", "E"]
    assert any("4 record(s) have won/closed flags" in n and "the flags count" in n
               for n in e.notes)
    assert run_audit(e).findings.set_index("check").loc["outcome_mismatch", "records"] == 4
