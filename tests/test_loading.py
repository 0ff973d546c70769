"""Loading CRM exports: hand-made cases for every rule, the reconciliation, and the real Salesforce
sample through its preset."""

from __future__ import annotations

import csv

import pandas as pd
import pytest
from conftest import SALESFORCE, reconciles, write_engagement, write_salesforce_engagement

from toolkit import Engagement
from toolkit.base.exceptions import DataError, UnknownStageError
from toolkit.base.vocabulary import reason_codes
from toolkit.io.loading import quarantine_summary
from toolkit.measure.audit import audit as run_audit


def load(path):
    return Engagement.from_yaml(path, use_cache=False)


def test_dutch_history_is_parsed_and_reconciled(history_engagement):
    path = history_engagement([
        "D1;Suspect;03-01-2025 09:00;1.250,50",
        "D1;Lead;15-01-2025 10:30;1.250,50",
        "D1;Gewonnen;20-02-2025 16:00;2.000,00",
        "D2;Suspect;04-01-2025 09:00;",
        "D2;Verloren;10-01-2025 12:00;",
        "D3; potentieel ;05-01-2025 08:00;500",
    ], encoding="cp1252")
    e = load(path)
    reconciles(e)
    rec = e.records.set_index("record_id")
    assert rec.loc["D1", "outcome"] == "won"
    assert rec.loc["D1", "closed_at"] == pd.Timestamp("2025-02-20 16:00")
    assert rec.loc["D1", "value"] == 2000.0  # the latest amount
    assert rec.loc["D2", "outcome"] == "lost"
    assert rec.loc["D2", "lost_at_phase"] == "target"
    assert rec.loc["D3", "outcome"] == "open"
    # stray spaces and case in a stage name still map
    assert e.events.query("record_id == 'D3'")["phase"].tolist() == ["opportunity"]
    # lost is an exit, never a phase
    assert set(e.events["phase"].astype(str)) <= {"target", "lead", "opportunity", "order"}
    assert str(e.events["phase"].dtype) == "category" and e.events["phase"].cat.ordered
    assert e.events.query("record_id == 'D1'")["source_row"].tolist() == [2, 3, 4]


def test_dirty_rows_are_quarantined_with_reasons(history_engagement):
    path = history_engagement([
        "D1;Suspect;03-01-2025 09:00;",
        "D1;Suspect;03-01-2025 09:00;",      # exact duplicate
        ";Lead;04-01-2025 09:00;",           # no record id
        "D1;Lead;;",                         # no date
        "D1;Lead;31-02-2025 10:00;",         # impossible date
        "T1;Test;05-01-2025 09:00;",         # declared ignore
        "D1;Lead;06-01-2025 09:00;",
    ])
    e = load(path)
    reconciles(e)
    reasons = dict(zip(e.quarantine["source_row"], e.quarantine["reason"], strict=True))
    assert reasons[3] == "duplicate of row 2"
    assert reasons[4].startswith("missing record id")
    assert reasons[5].startswith("missing date")
    assert reasons[6].startswith("unparseable date '31-02-2025 10:00'")
    assert "declared `ignore`" in reasons[7]
    assert e.reconciliation.loc[0, "rows_in"] == 7
    assert e.reconciliation.loc[0, "rows_used"] == 2
    assert list(e.records["record_id"]) == ["D1"]


def test_unknown_stages_are_listed_with_counts(history_engagement):
    path = history_engagement([
        "D1;Suspect;03-01-2025 09:00;",
        "D1;Demo gepland;04-01-2025 09:00;",
        "D2;Demo gepland;04-01-2025 09:00;",
        "D2;Contract;05-01-2025 09:00;",
    ])
    with pytest.raises(UnknownStageError, match=r"'Contract' \(1 rows\), 'Demo gepland' \(2 rows\)"):
        load(path)
    with pytest.raises(UnknownStageError, match="unknown_stages: quarantine"):
        load(path)


def test_unknown_stages_can_be_quarantined(history_engagement, tmp_path):
    path = history_engagement(["D1;Suspect;03-01-2025 09:00;", "D1;Demo;04-01-2025 09:00;"])
    text = path.read_text().replace("name: test", "name: test\nunknown_stages: quarantine")
    path.write_text(text)
    e = load(path)
    reconciles(e)
    assert e.quarantine["reason"].tolist() == ["unknown stage 'Demo' (not in stage_mapping)"]
    assert e.quarantine["reason_code"].tolist() == ["unknown_stage"]


def test_ambiguous_dates_are_refused_not_guessed(tmp_path):
    (tmp_path / "h.csv").write_text("Deal;Fase;Datum\nD1;Suspect;03-04-2025\nD1;Lead;05-06-2025\n")
    path = write_engagement(tmp_path, [{"path": "h.csv", "shape": "history", "columns": {
        "record_id": "Deal", "stage": "Fase", "changed_at": "Datum"}}])
    with pytest.raises(DataError, match=r"h.csv, column 'Datum': dates are ambiguous.*"
                                        r"value '03-04-2025'.*Fix: set `date_format: dmy`"):
        load(path)


def test_unambiguous_dates_are_detected(tmp_path):
    (tmp_path / "h.csv").write_text("Deal;Fase;Datum\nD1;Suspect;03-04-2025\nD1;Lead;25-06-2025\n")
    path = write_engagement(tmp_path, [{"path": "h.csv", "shape": "history", "columns": {
        "record_id": "Deal", "stage": "Fase", "changed_at": "Datum"}}])
    e = load(path)
    assert e.events["entered_at"].tolist() == [pd.Timestamp("2025-04-03"), pd.Timestamp("2025-06-25")]


def test_missing_column_names_the_headers_and_the_fix(tmp_path):
    (tmp_path / "h.csv").write_text("Deal;Stage;Datum\nD1;Suspect;03-01-2025\n")
    path = write_engagement(tmp_path, [{"path": "h.csv", "shape": "history", "date_format": "dmy",
                                        "columns": {"record_id": "Deal", "stage": "Fase",
                                                    "changed_at": "Datum"}}])
    with pytest.raises(DataError, match=r"h.csv, column 'Fase': column 'Fase' \(for stage\) not "
                                        r"found; the file has \['Deal', 'Stage', 'Datum'\].*"
                                        r"Fix: set `sources\[h\].columns.stage`"):
        load(path)


def test_reopened_after_lost_ends_in_its_final_state(history_engagement):
    path = history_engagement([
        "D1;Suspect;01-01-2025 09:00;",
        "D1;Potentieel;10-01-2025 09:00;",
        "D1;Verloren;20-01-2025 09:00;",
        "D1;Potentieel;01-03-2025 09:00;",
        "D1;Offerte;10-03-2025 09:00;",
    ])
    e = load(path)
    rec = e.records.iloc[0]
    assert rec["outcome"] == "open" and pd.isna(rec["closed_at"]) and pd.isna(rec["lost_at_phase"])
    flags = run_audit(e).by_record.set_index("record_id")
    assert flags.loc["D1", "reopened_after_lost"] == 1
    assert flags.loc["D1", "regressions"] == 0  # opportunity -> opportunity is no move back


def test_won_then_lost_is_not_an_order(history_engagement):
    path = history_engagement([
        "D1;Offerte;01-01-2025 09:00;",
        "D1;Gewonnen;10-01-2025 09:00;",
        "D1;Verloren;20-01-2025 09:00;",
    ])
    e = load(path)
    reconciles(e)
    rec = e.records.iloc[0]
    assert rec["outcome"] == "lost" and rec["lost_at_phase"] == "proposal"
    assert "order" not in set(e.events["phase"].astype(str))
    assert e.quarantine["reason"].iloc[0] == "won stage reversed: the record's final state is lost"
    assert e.quarantine["reason_code"].iloc[0] == "won_reversed"


def test_regressions_and_skips_are_audited(history_engagement):
    path = history_engagement([
        "D1;Suspect;01-01-2025 09:00;",
        "D1;Potentieel;05-01-2025 09:00;",   # skips lead
        "D1;Offerte;10-01-2025 09:00;",
        "D1;Potentieel;12-01-2025 09:00;",   # moves back
        "D1;Offerte;20-01-2025 09:00;",
    ])
    flags = run_audit(load(path)).by_record.set_index("record_id")
    assert flags.loc["D1", "skipped_phases"] == 1
    assert flags.loc["D1", "regressions"] == 1


def test_pseudonymised_personal_columns_are_stable(tmp_path):
    (tmp_path / "h.csv").write_text("Deal;Fase;Datum;Contact\nD1;Suspect;13-01-2025;José Brouwer\n"
                                    "D2;Suspect;14-01-2025;José Brouwer\nD3;Lead;15-01-2025;Anna\n",
                                    encoding="utf-8")
    path = write_engagement(tmp_path, [{"path": "h.csv", "shape": "history", "columns": {
        "record_id": "Deal", "stage": "Fase", "changed_at": "Datum"},
        "attributes": {"contact": "Contact"}, "personal": ["contact"]}])
    contacts = load(path).records.set_index("record_id")["contact"]
    assert contacts["D1"] == contacts["D2"] != contacts["D3"]
    assert contacts.str.startswith("P-").all() and "José" not in "".join(contacts)


def test_cache_round_trip_gives_the_same_tables(history_engagement):
    path = history_engagement(["D1;Suspect;03-01-2025 09:00;", "D1;Verloren;04-01-2025 09:00;"])
    first = Engagement.from_yaml(path)
    again = Engagement.from_yaml(path)
    assert list((path.parent / ".cache").rglob("*.parquet"))
    # the very tables, dtypes included: a step result must not depend on whether the cache was
    # warm (the quarantine's text columns came back as strings where a first load held objects)
    for table in ("events", "records", "stage_log", "quarantine", "reconciliation",
                  "outcome_mismatches"):
        pd.testing.assert_frame_equal(getattr(again, table), getattr(first, table))
    assert again.events["phase"].cat.ordered


def test_wide_hubspot_preset_with_date_entered_columns(tmp_path):
    (tmp_path / "deals.csv").write_text(
        'Record ID,Create Date,Close Date,Amount,Deal Stage,Deal owner,Deal Type,'
        '"Date entered ""Suspect (Sales Pipeline)""","Date entered ""Lead (Sales Pipeline)""",'
        '"Date entered ""Gewonnen (Sales Pipeline)""","Date entered ""Verloren (Sales Pipeline)"""\n'
        "1,2025-01-02,2025-02-01,1000,Gewonnen,Anna,new,2025-01-02 10:00,2025-01-05 10:00,"
        "2025-02-01 10:00,\n"
        "2,2025-01-03,,500,Lead,Bob,new,2025-01-03 10:00,2025-01-09 10:00,,\n"
        "3,2025-01-04,2025-01-20,700,Verloren,Bob,new,2025-01-04 10:00,,,2025-01-20 11:00\n"
        "3,2025-01-04,2025-01-20,700,Verloren,Bob,new,2025-01-04 10:00,,,2025-01-20 11:00\n")
    path = write_engagement(tmp_path, [{"path": "deals.csv", "shape": "wide", "preset": "hubspot"}])
    e = load(path)
    reconciles(e)
    rec = e.records.set_index("record_id")
    assert rec["outcome"].to_dict() == {"1": "won", "2": "open", "3": "lost"}
    assert rec.loc["3", "lost_at_phase"] == "target"
    # The preset's owner is employee data: a pseudonym unless the engagement allows names.
    assert rec.loc["1", "owner"].startswith("P-") and rec.loc["2", "owner"] == rec.loc["3", "owner"]
    assert "Anna" not in rec["owner"].str.cat()
    assert e.quarantine["reason"].tolist() == ["duplicate record id (first at row 4)"]
    assert e.quarantine["reason_code"].tolist() == ["duplicate_record"]


def test_snapshot_xlsx_with_excel_serial_dates(tmp_path):
    frame = pd.DataFrame({
        "Deal ID": ["A", "B", "C", "T"],
        "Huidige fase": ["Offerte", "Verloren", "Gewonnen", "Test"],
        "Fase bij verlies": [None, "Potentieel", None, None],
        "Aangemaakt op": [pd.Timestamp("2025-01-02"), 45660, pd.Timestamp("2025-01-06"), 45660],
        "Sluitdatum": [None, pd.Timestamp("2025-02-01"), pd.Timestamp("2025-03-01"), None],
        "Bedrag": [100.0, 200.0, 300.0, 1.0],
    })
    frame.to_excel(tmp_path / "deals.xlsx", index=False)
    path = write_engagement(tmp_path, [{"path": "deals.xlsx", "shape": "snapshot", "columns": {
        "record_id": "Deal ID", "current_stage": "Huidige fase", "lost_at_stage": "Fase bij verlies",
        "created_at": "Aangemaakt op", "closed_at": "Sluitdatum", "value": "Bedrag"}}])
    e = load(path)
    reconciles(e)
    rec = e.records.set_index("record_id")
    # Excel serial 45660 = 2025-01-03 (day 0 = 1899-12-30)
    assert rec.loc["B", "created_at"] == pd.Timestamp("2025-01-03")
    assert rec.loc["B", "lost_at_phase"] == "opportunity"
    assert rec.loc["C", "outcome"] == "won" and rec.loc["A", "outcome"] == "open"
    assert dict(zip(e.events["record_id"], e.events["phase"].astype(str), strict=True)) == {
        "A": "proposal", "B": "opportunity", "C": "order"}
    assert not e.timing_known


# --- the real Salesforce export ----------------------------------------------------------------

@pytest.fixture
def salesforce(tmp_path):
    path = write_salesforce_engagement(tmp_path)
    return load(path)


def _rows(name):
    with open(SALESFORCE / name, newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def test_salesforce_sample_loads_through_its_preset(salesforce):
    e = salesforce
    reconciles(e)
    history, opportunities = _rows("OpportunityHistory.csv"), _rows("Opportunity.csv")
    recon = e.reconciliation.set_index(e.reconciliation["file"].str.rsplit("/", n=1).str[-1])
    assert recon.loc["OpportunityHistory.csv", "rows_in"] == len(history) == 48
    assert recon.loc["Opportunity.csv", "rows_in"] == len(opportunities) == 36
    assert len(e.records) == 36
    # The history's final state agrees with Salesforce's own IsWon / IsClosed flags.
    expected = {r["Id"]: "won" if r["IsWon"] == "TRUE" else "lost" if r["IsClosed"] == "TRUE"
                else "open" for r in opportunities}
    assert e.records.set_index("record_id")["outcome"].to_dict() == expected
    assert e.outcome_mismatches.empty
    # 'Closed Won' later followed by 'Closed Lost' is not an order (7 such deals in the export)
    won_then_lost = {r["OpportunityId"] for r in history if r["StageName"] == "Closed Lost"} & {
        r["OpportunityId"] for r in history if r["StageName"] == "Closed Won"}
    assert len(won_then_lost) == 7
    assert run_audit(e).findings.set_index("check").loc["won_reversed", "records"] == 7
    # US 12-hour timestamps: 02/24/26 02:20 AM
    assert pd.Timestamp("2026-02-24 02:20") in set(e.events["entered_at"])
    assert e.as_of == pd.Timestamp("2026-03-07 21:00")
    assert "lead_source" in e.segments
    # many rows share one bulk timestamp: the audit says so
    assert run_audit(e).findings.set_index("check").loc["bulk_timestamp", "records"] >= 20


def test_unknown_stage_spellings_are_counted_together(history_engagement):
    path = history_engagement(["D1;Demo;04-01-2025 09:00;", "D2;DEMO ;04-01-2025 09:00;",
                               "D3;demo;05-01-2025 09:00;", "D4;Demo;05-01-2025 09:00;"])
    with pytest.raises(UnknownStageError, match=r"1 CRM stage\(s\).*'Demo' \(4 rows\)"):
        load(path)


def test_pipedrive_deals_export_keeps_the_stage_of_a_lost_deal(tmp_path):
    (tmp_path / "deals.csv").write_text(
        "Deal - ID,Deal - Stage,Deal - Status,Deal - Deal created,Deal - Deal closed on,"
        "Deal - Value,Deal - Owner,Deal - Lost reason\n"
        "1,Offerte,won,2025-01-02 10:00:00,2025-02-01 12:00:00,1000,Anna,\n"
        "2,Potentieel,lost,2025-01-03 10:00:00,2025-01-20 09:00:00,500,Bob,too expensive\n"
        "3,Lead,open,2025-01-04 10:00:00,,700,Bob,\n")
    path = write_engagement(tmp_path, [{"path": "deals.csv", "shape": "snapshot",
                                        "preset": "pipedrive"}])
    e = load(path)
    reconciles(e)
    rec = e.records.set_index("record_id")
    # Pipedrive keeps the stage and says won/lost in Status: lost at the stage it was in
    assert rec["outcome"].to_dict() == {"1": "won", "2": "lost", "3": "open"}
    assert rec.loc["2", "lost_at_phase"] == "opportunity"
    assert rec.loc["2", "lost_reason"] == "too expensive"
    assert rec.loc["1", "closed_at"] == pd.Timestamp("2025-02-01 12:00")


def test_utc_source_is_converted_to_the_engagement_time_zone(tmp_path):
    (tmp_path / "h.csv").write_text("Deal,Fase,Datum\nD1,Suspect,2025-01-13 23:30:00\n"
                                    "D1,Lead,2025-07-01 22:15:00\n")
    path = write_engagement(tmp_path, [{"path": "h.csv", "shape": "history", "timezone": "UTC",
                                        "columns": {"record_id": "Deal", "stage": "Fase",
                                                    "changed_at": "Datum"}}])
    stamps = load(path).events["entered_at"].tolist()
    # Amsterdam is UTC+1 in winter and UTC+2 in summer: both move to the next calendar day
    assert stamps == [pd.Timestamp("2025-01-14 00:30"), pd.Timestamp("2025-07-02 00:15")]


def test_utf8_with_bom_and_a_first_column_header(tmp_path):
    (tmp_path / "h.csv").write_bytes("\ufeffDeal;Fase;Datum\nD1;Offerte;13-01-2025\n".encode())
    path = write_engagement(tmp_path, [{"path": "h.csv", "shape": "history", "date_format": "dmy",
                                        "columns": {"record_id": "Deal", "stage": "Fase",
                                                    "changed_at": "Datum"}}])
    e = load(path)
    assert e.events["phase"].tolist() == ["proposal"] and not e.notes


def test_cp1252_without_a_declared_encoding_is_read_with_a_note(tmp_path):
    (tmp_path / "h.csv").write_bytes("Deal;Fase;Datum;Contact\nD1;Lead;13-01-2025;Zoë\n".encode(
        "cp1252"))
    path = write_engagement(tmp_path, [{"path": "h.csv", "shape": "history", "date_format": "dmy",
                                        "columns": {"record_id": "Deal", "stage": "Fase",
                                                    "changed_at": "Datum"},
                                        "attributes": {"contact": "Contact"}}])
    e = load(path)
    assert e.records["contact"].tolist() == ["Zoë"]
    assert "read as cp1252" in e.notes[0]


def test_us_excel_style_timestamps(tmp_path):
    (tmp_path / "h.csv").write_text("Deal,Fase,Datum\nD1,Suspect,02/23/26 08:55 PM\n"
                                    "D1,Lead,03/07/26 09:00 AM\n")
    path = write_engagement(tmp_path, [{"path": "h.csv", "shape": "history", "date_format": "mdy",
                                        "columns": {"record_id": "Deal", "stage": "Fase",
                                                    "changed_at": "Datum"}}])
    assert load(path).events["entered_at"].tolist() == [pd.Timestamp("2026-02-23 20:55"),
                                                        pd.Timestamp("2026-03-07 09:00")]


def test_quarantine_summary_folds_by_code_not_by_wording():
    q = pd.DataFrame({
        "source": "h",
        "reason": ["unknown stage 'Demo' (not in stage_mapping)",
                   "unknown stage 'Pilot' (not in stage_mapping)",
                   "duplicate of row 4", "duplicate of row 9",
                   "status 'Deleted' is not won, lost or open (nor a stage in stage_mapping)"],
        "reason_code": reason_codes(["unknown_stage", "unknown_stage", "duplicate_row",
                                     "duplicate_row", "unknown_status"])})
    out = quarantine_summary(q).set_index("reason")
    assert out.loc["unknown stage '…' (not in stage_mapping)", "rows"] == 2
    assert out.loc["duplicate of row N", "rows"] == 2
    # a status quotes no unreadable value: it keeps its words (the code decides, not the words)
    assert out.loc["status 'Deleted' is not won, lost or open (nor a stage in stage_mapping)",
                   "rows"] == 1
    assert sorted(out["reason_code"].astype(str)) == ["duplicate_row", "unknown_stage",
                                                       "unknown_status"]


def test_an_attribute_may_be_named_as_its_header(tmp_path):
    # `attributes: {Regio: Regio}` put two 'Regio' columns side by side in the loader and it
    # stopped with a TypeError; the attribute is the file's column under the same name.
    (tmp_path / "history.csv").write_text(
        "Deal;Fase;Datum;Regio\nD1;Suspect;03-01-2025 09:00;Noord\nD1;Lead;15-01-2025 10:30;Zuid\n"
        "D2;Suspect;04-01-2025 09:00;Noord\n")
    e = load(write_engagement(tmp_path, [{
        "name": "history", "path": "history.csv", "shape": "history", "date_format": "dmy",
        "columns": {"record_id": "Deal", "stage": "Fase", "changed_at": "Datum"},
        "attributes": {"Regio": "Regio"}}], as_of="2025-06-30"))
    assert e.records.set_index("record_id")["Regio"].to_dict() == {"D1": "Zuid", "D2": "Noord"}
    assert any("1 record(s) have more than one value of `Regio` (e.g. 'D1': 'Noord', 'Zuid')" in n
               for n in e.notes)


def test_the_audit_counts_each_record_by_its_own_rows(history_engagement):
    """Worked by hand. Ids whose text order (D10 < D2 < D9) is neither the file's nor the number's,
    so a flag landing on the wrong record shows; a missing date on a loaded record counts for it,
    one on a record that never loaded (D7) counts only in the total rows."""
    path = history_engagement([
        "D9;Potentieel;02-01-2025 09:00;",   # first seen at opportunity: a late phase (3rd of 5)
        "D10;Suspect;01-01-2025 09:00;",
        "D9;Verloren;03-01-2025 09:00;",
        "D2;Suspect;01-01-2025 09:00;",
        "D10;Offerte;10-01-2025 09:00;",     # suspect -> proposal skips lead and opportunity
        "D9;Potentieel;04-01-2025 09:00;",   # lost, then active again
        "D2;Offerte;;",                      # no date
        "D7;Suspect;;",                      # no date, and D7 has no other row
    ])
    e = load(path)
    audit = run_audit(e)
    flags = audit.by_record.set_index("record_id")
    assert list(flags.index) == list(e.records["record_id"])
    assert flags["skipped_phases"].to_dict() == {"D10": 2, "D2": 0, "D9": 0}
    assert flags["reopened_after_lost"].to_dict() == {"D10": 0, "D2": 0, "D9": 1}
    assert flags["created_in_late_phase"].to_dict() == {"D10": 0, "D2": 0, "D9": 1}
    assert flags["missing_dates"].to_dict() == {"D10": 0, "D2": 1, "D9": 0}
    missing = audit.findings.set_index("check").loc["missing_dates"]
    assert (missing["records"], missing["rows"]) == (1, 2)
