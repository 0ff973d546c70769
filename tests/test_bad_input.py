"""Every case of the bad-input corpus ends as declared: a toolkit error that names the file and the
fix, a quarantine with its reason and a reconciliation that holds, or a correct load."""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from conftest import reconciles as reconciles_per_file
from corpus import CASES, Case

from toolkit import Engagement
from toolkit.base.exceptions import ConfigError, DataError, ToolkitError
from toolkit.base.vocabulary import REASONS
from toolkit.measure.audit import audit as run_audit
from toolkit.steps import open_engagement

BY_NAME = {c.name: c for c in CASES}


def load(case: Case, folder) -> Engagement:
    return open_engagement(case.build(folder), use_cache=False)


def test_the_corpus_is_large_and_names_are_unique():
    assert len(CASES) >= 30
    assert len(BY_NAME) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_ends_as_declared(case: Case, tmp_path):
    if case.outcome == "error":
        try:
            load(case, tmp_path)
        except ToolkitError as exc:
            message = str(exc)
            assert "Fix:" in message, message
            # the message names the file it is about (the export or the engagement YAML)
            assert any(f"{tmp_path.name}/{name}" in message for name in
                       ("history.csv", "deals.csv", "deals.xlsx", "engagement.yaml")), message
            for text in case.expect:
                assert text in message, f"{text!r} not in {message!r}"
            assert isinstance(exc, ConfigError | DataError)
        else:
            pytest.fail(f"{case.name}: loaded without an error")
        return
    e = load(case, tmp_path)
    reconciles(e)
    # every set-aside row carries a code of the vocabulary beside its sentence
    assert e.quarantine["reason_code"].notna().all(), e.quarantine[["reason", "reason_code"]]
    assert set(e.quarantine["reason_code"].astype(str)) <= set(REASONS)
    if case.outcome == "quarantine":
        reasons = e.quarantine["reason"].astype(str)
        for text in case.expect:
            assert reasons.str.contains(text, regex=False).any(), (text, reasons.tolist())
    else:
        notes = " ".join(e.notes)
        for text in case.expect:
            assert text in notes, (text, e.notes)
    check = CHECKS.get(case.name)
    if check is not None:
        check(e)


def reconciles(e: Engagement) -> None:
    """The shared reconciliation check, plus: every data line of a CSV is counted in, and no row is
    both used and quarantined."""
    reconciles_per_file(e)
    r = e.reconciliation
    for row in r.itertuples():
        if row.file.endswith(".csv"):  # every data line of the file is counted in
            data = Path(row.file).read_bytes()
            text = data.decode("utf-16" if data[:2] == b"\xff\xfe" else "cp1252", errors="replace")
            header = next(s.header_row or 1 for s in e.config.sources
                          if Path(row.file).name in (s.path, getattr(s.records, "path", None)))
            assert row.rows_in == len(text.splitlines()) - header, row
    # a row that made an event is never also in the quarantine (events come from the main file)
    main = r.drop_duplicates("source").set_index("source")["file"]
    for source, file in main.items():
        kept = set(e.events.loc[e.events["source"] == source, "source_row"])
        held = set(e.quarantine.loc[e.quarantine["file"] == file, "source_row"])
        assert not kept & held, (source, kept & held)


# --- what a correct load holds, case by case (numbers worked out by hand) ---------------------------

def _records(e: Engagement) -> pd.DataFrame:
    return e.records.set_index("record_id")


def _entered(e: Engagement, record: str) -> dict[str, pd.Timestamp]:
    ev = e.events[e.events["record_id"] == record]
    return dict(zip(ev["phase"].astype(str), ev["entered_at"], strict=True))


def _rows(e: Engagement) -> tuple[int, int, int]:
    r = e.reconciliation
    return int(r["rows_in"].sum()), int(r["rows_used"].sum()), int(r["rows_quarantined"].sum())


def _finding(e: Engagement, check: str) -> int:
    return int(run_audit(e).findings.set_index("check").loc[check, "records"])


def check_good(e: Engagement) -> None:
    """The three rows of corpus._GOOD: D1 target 3 Jan -> lead 10 Jan, D2 target 4 Jan."""
    assert _entered(e, "D1") == {"target": pd.Timestamp("2025-01-03"),
                                 "lead": pd.Timestamp("2025-01-10")}
    assert _entered(e, "D2") == {"target": pd.Timestamp("2025-01-04")}
    assert _rows(e) == (3, 3, 0)


def check_cp1252(e):
    assert _records(e)["contact"].to_dict() == {"D1": "Zoë", "D2": "Jürgen"}


def check_blank_lines(e):
    # the blank line is row 3; the row after it keeps its own number 4
    assert e.quarantine[["source_row", "reason"]].values.tolist() == [[3, "blank row"]]
    assert e.events["source_row"].tolist() == [2, 4]
    assert _rows(e) == (3, 2, 1)


def check_mixed_iso(e):
    assert _entered(e, "D1") == {"target": pd.Timestamp("2025-01-03"),
                                 "lead": pd.Timestamp("2025-01-10")}
    assert e.quarantine.empty


def check_serials(e):
    # 45660 days after 1899-12-30 is 2025-01-03; +7 = 2025-01-10
    check_good(e)


def check_future(e):
    q = e.quarantine
    assert q["source_row"].tolist() == [5] and q["column"].tolist() == ["Datum"]
    assert "Fix:" not in q["reason"].iloc[0] and "check the year" in q["reason"].iloc[0]
    assert _entered(e, "D2") == {"target": pd.Timestamp("2025-01-04")}
    assert _rows(e) == (4, 3, 1)


def check_future_no_as_of(e):
    assert e.quarantine["source_row"].tolist() == [5]
    assert e.as_of == pd.Timestamp("2025-01-10")  # the latest date that was kept


def check_pre_1990(e):
    assert e.quarantine["source_row"].tolist() == [5]
    assert e.quarantine["value"].tolist() == ["03-01-1925"]
    assert _records(e).loc["D2", "created_at"] == pd.Timestamp("2025-01-04")


def check_timezones(e):
    # 09:00Z = 10:00 in Amsterdam (UTC+1 in January); a naive stamp is already local;
    # 10:00+01:00 is 10:00 in Amsterdam
    assert _entered(e, "D1") == {"target": pd.Timestamp("2025-01-03 10:00"),
                                 "lead": pd.Timestamp("2025-01-10 11:00")}
    assert _entered(e, "D2") == {"target": pd.Timestamp("2025-01-04 10:00")}


def values(expected: dict[str, float]) -> Callable[[Engagement], None]:
    def check(e):
        got = _records(e)["value"].to_dict()
        assert set(got) == set(expected)
        for key, value in expected.items():
            assert (math.isnan(got[key]) and math.isnan(value)) or got[key] == pytest.approx(value)
    return check


def check_leading_zeros(e):
    assert sorted(e.records["record_id"]) == ["0042", "007"]
    assert set(e.events["record_id"]) == {"007", "0042"}
    assert e.records["record_id"].dtype == "string"


def check_duplicates(e):
    assert _rows(e) == (3, 2, 1)
    assert _entered(e, "D1") == {"target": pd.Timestamp("2025-01-03"),
                                 "lead": pd.Timestamp("2025-01-10")}


def check_conflict_history(e):
    assert _records(e)["region"].to_dict() == {"D1": "Zuid", "D2": "Oost"}


def check_conflict_snapshot(e):
    assert _records(e)["region"].to_dict() == {"D1": "Noord", "D2": "Oost"}
    q = e.quarantine
    assert q["source_row"].tolist() == [4]
    assert "'Noord'" in q["reason"].iloc[0] and "'Zuid'" in q["reason"].iloc[0]


def check_unknown_quarantined(e):
    assert _rows(e) == (4, 3, 1)
    assert e.quarantine["source_row"].tolist() == [5]


def check_regressions(e):
    flags = run_audit(e).by_record.set_index("record_id")
    assert flags.loc["D1", "regressions"] == 1 and flags.loc["D1", "skipped_phases"] == 1
    assert _entered(e, "D1") == {"target": pd.Timestamp("2025-01-01"),
                                 "opportunity": pd.Timestamp("2025-01-05"),
                                 "proposal": pd.Timestamp("2025-01-10")}


def check_reopened(e):
    rec = _records(e).loc["D1"]
    assert rec["outcome"] == "open" and pd.isna(rec["closed_at"]) and pd.isna(rec["lost_at_phase"])
    assert _finding(e, "reopened_after_lost") == 1


def check_after_close_history(e):
    rec = _records(e).loc["D1"]
    assert rec["outcome"] == "open"
    assert "order" not in set(e.events["phase"].astype(str))
    assert _finding(e, "won_reversed") == 1
    assert _rows(e) == (3, 2, 1)


def check_closed_before_created(e):
    assert e.quarantine[["source_row", "column"]].values.tolist() == [[2, "Gesloten"]]
    assert e.records["record_id"].tolist() == ["D2"]
    assert _rows(e) == (2, 1, 1)


def check_terminal_only(e):
    rec = _records(e)
    assert rec["outcome"].to_dict() == {"D1": "won", "D2": "lost", "D3": "open"}
    # won with no earlier rows: one event at the won phase; lost with none: no event at all
    assert _entered(e, "D1") == {"order": pd.Timestamp("2025-01-10")}
    assert _entered(e, "D2") == {}
    assert pd.isna(rec.loc["D2", "lost_at_phase"])
    assert rec.loc["D2", "closed_at"] == pd.Timestamp("2025-01-12")


def check_xlsx_header_row(e):
    # the header is row 3, so the first deal is row 4 as the spreadsheet shows it
    assert e.events["source_row"].tolist() == [4, 5, 6]
    assert _entered(e, "D1") == {"target": pd.Timestamp("2025-01-03"),
                                 "lead": pd.Timestamp("2025-01-10")}


def check_csv_header_row(e):
    assert e.events["source_row"].tolist() == [3, 4, 5]
    check_good(e)


def check_future_wide(e):
    # D2's row is set aside whole: a wide row is one record
    assert e.quarantine["source_row"].tolist() == [3]
    assert sorted(e.records["record_id"]) == ["D1", "D3"]
    assert _entered(e, "D3") == {"target": pd.Timestamp("2025-01-05"),
                                 "lead": pd.Timestamp("2025-01-06"),
                                 "proposal": pd.Timestamp("2025-02-01")}


def check_conflicting_records_file(e):
    rec = _records(e)
    assert rec["value"].to_dict() == {"D1": 1000.0, "D2": 500.0}
    assert rec["region"].to_dict() == {"D1": "Noord", "D2": "Oost"}
    assert _rows(e) == (6, 5, 1)


def check_all_quarantined(e):
    assert e.records.empty and e.events.empty
    assert _rows(e) == (2, 0, 2)
    assert "none of its 2 rows was used" in " ".join(e.notes)


CHECKS: dict[str, Callable[[Engagement], None]] = {
    "utf16_file": check_good,
    "all_rows_quarantined": check_all_quarantined,
    "future_dates_wide": check_future_wide,
    "future_dates_without_as_of": check_future_no_as_of,
    "leading_zero_ids_xlsx": check_leading_zeros,
    "conflicting_records_file": check_conflicting_records_file,
    "csv_title_line_with_header_row": check_csv_header_row,
    "pipe_delimiter_sniffed": check_good,
    "utf8_bom": check_good,
    "extra_unknown_columns": check_good,
    "cp1252_encoding": check_cp1252,
    "blank_lines": check_blank_lines,
    "mixed_iso_and_dmy_dates": check_mixed_iso,
    "excel_serial_dates": check_serials,
    "future_dates": check_future,
    "dates_before_1990": check_pre_1990,
    "mixed_timezones": check_timezones,
    "decimal_comma_amounts": values({"D1": 1250.5, "D2": 99.95}),
    "currency_signs_euro": values({"D1": 1234.5, "D2": 10.0}),
    "currency_signs_dollar": values({"D1": 1234.5, "D2": 99.0}),
    "mixed_separator_amounts": values({"D1": 1234.5, "D2": 1234.5}),
    "non_numeric_amounts": values({"D1": float("nan"), "D2": 500.0}),
    "negative_amounts": values({"D1": float("nan"), "D2": 700.0}),
    "non_numeric_amounts_snapshot": values({"D1": float("nan"), "D2": 100.0}),
    "leading_zero_ids": check_leading_zeros,
    "exact_duplicate_rows": check_duplicates,
    "conflicting_attributes_history": check_conflict_history,
    "conflicting_attributes_snapshot": check_conflict_snapshot,
    "unknown_stage_names_quarantined": check_unknown_quarantined,
    "regressions": check_regressions,
    "reopened_after_lost": check_reopened,
    "events_after_close_history": check_after_close_history,
    "closed_before_created_snapshot": check_closed_before_created,
    "only_terminal_events": check_terminal_only,
    "xlsx_title_row_with_header_row": check_xlsx_header_row,
}


# --- hostile input (issue 14): data stays data --------------------------------------------------

def _markdown_html(text: str) -> str:
    from nbconvert.filters.markdown_mistune import markdown2html_mistune
    return markdown2html_mistune(text)


def _inert(rendered: str) -> None:
    """HTML rendered from a conclusion holds no tag but the list, no link and no image."""
    tags = set(re.findall(r"</?([a-zA-Z][\w-]*)", rendered))
    assert tags <= {"ul", "li", "p", "strong"}, (tags, rendered)
    assert "javascript:" not in rendered.replace("javascript\\:", "") or "<a" not in rendered


def check_markup_values(e):
    from corpus import MARKUP

    from toolkit.present import narrative
    # the values are kept exactly as typed: data, not markup
    assert sorted(e.records["action"]) == sorted(MARKUP)
    for value in MARKUP:
        # a line is plain text: the Markdown of the bullets escapes it once
        rendered = _markdown_html(narrative.bullets([f"{value}: a finding"]))
        _inert(rendered)
        assert html.unescape(re.sub(r"<[^>]+>", "", rendered)).strip() == f"{value}: a finding"


def check_markup_labels(e):
    from toolkit.measure.funnel import funnel
    from toolkit.present import narrative
    rendered = _markdown_html(narrative.process_model(e, funnel(e)))
    _inert(rendered)
    assert "Lead [c](javascript:alert(1))" in html.unescape(rendered)
    assert _entered(e, "D2")["lead"] == pd.Timestamp("2025-01-05")  # the hostile stage maps


def check_formulas(e):
    from corpus import FORMULAS
    # kept as typed (trimmed, as every value is)
    assert set(e.records["action"].dropna()) == {v.strip() for v in FORMULAS} | {"x"}
    q = e.quarantine.set_index("source_row")
    assert q.loc[8, "value"] == "=NOW()" and q.loc[8, "column"] == "Datum"
    assert "=NOW()" in set(e.records["record_id"])  # an id is an id, whatever it looks like


def check_control_characters(e):
    assert "event\x01" in set(e.records["action"])


def check_personal_duplicates(e):
    from corpus import PEOPLE
    text = e.quarantine.to_csv() + " ".join(e.notes) + e.records.to_csv()
    for person in (*PEOPLE, "Thijs Peeters", "t.peeters@example.com"):
        assert person not in text, person
    assert e.records["contact"].str.fullmatch(r"P-[0-9a-f]{10}").all()
    assert e.records["owner"].str.fullmatch(r"P-[0-9a-f]{10}").all()


def check_name_is_a_path(e):
    from toolkit.report import file_name
    assert e.name == "/tmp/../abs/evil"
    assert file_name(e.name) == "tmp_.._abs_evil" and "/" not in file_name(e.name)


CHECKS.update({
    "markup_in_attribute_values": check_markup_values,
    "markup_in_phase_labels_and_stages": check_markup_labels,
    "formulas_in_values": check_formulas,
    "control_characters_in_values": check_control_characters,
    "duplicate_id_with_personal_values": check_personal_duplicates,
    "engagement_name_is_a_path": check_name_is_a_path,
})


def test_every_check_belongs_to_a_case():
    assert set(CHECKS) <= set(BY_NAME)
    assert all(BY_NAME[name].outcome != "error" for name in CHECKS)


def test_error_details_name_row_column_and_value(tmp_path):
    """Where an error is about one cell, its fields say which."""
    with pytest.raises(DataError) as info:
        load(BY_NAME["ambiguous_dates"], tmp_path / "a")
    assert info.value.column == "Datum" and info.value.value == "03/04/2024"
    with pytest.raises(DataError) as info:
        load(BY_NAME["xlsx_title_row_without_header_row"], tmp_path / "b")
    assert info.value.row == 3
    with pytest.raises(ConfigError) as info:
        load(BY_NAME["stage_mapped_twice_duplicate_key"], tmp_path / "c")
    assert "line" in str(info.value)


@pytest.fixture(autouse=True)
def _folders(tmp_path):
    for sub in ("a", "b", "c"):
        (tmp_path / sub).mkdir()
