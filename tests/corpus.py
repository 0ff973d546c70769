"""A corpus of bad inputs: each case writes a small CRM export and engagement YAML into a folder.

The registry `CASES` is shared: `test_bad_input.py` opens every case with `open_engagement` (load
and run-settings check), and the CLI tests run `funnel validate / kpis / run` over the same
cases. Each case says how loading must end:

- ``"error"``: a ToolkitError whose message contains every string of `expect` (and names the file
  and says "Fix:");
- ``"quarantine"``: loads; some quarantine reason contains each string of `expect`, and the
  reconciliation holds;
- ``"ok"``: loads; each string of `expect` appears in the engagement's notes (empty: nothing to say).

`report` says whether `funnel run` (seven notebook kernels) must run on the case in the CLI corpus:
the hostile-input cases (issue 14) attack the loader, the YAML or the files, which `validate` and
`kpis` reach; what they do to the report is checked by one run over all of them at once
(`test_hostile.py`).

All files are made by code, never checked in, so a case is readable in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from conftest import MAPPING, PHASES  # the five-phase model every hand-made case uses

__all__ = ["Case", "CASES", "case", "PHASES", "MAPPING"]

HISTORY = {"record_id": "Deal", "stage": "Fase", "changed_at": "Datum"}
SNAPSHOT = {"record_id": "Deal", "current_stage": "Fase", "created_at": "Aangemaakt"}
AS_OF = "2025-06-30"


@dataclass(frozen=True)
class Case:
    """One bad input: how to build it and how loading it must end."""

    name: str
    build: Callable[[Path], Path]  # writes the files into the folder, returns the engagement YAML
    outcome: Literal["error", "quarantine", "ok"]
    expect: tuple[str, ...] = ()
    description: str = ""
    report: bool = True


CASES: list[Case] = []


def case(name: str, outcome: str, *expect: str, description: str = "", report: bool = True):
    """Register the decorated build function as a case."""
    def register(build: Callable[[Path], Path]) -> Callable[[Path], Path]:
        CASES.append(Case(name, build, outcome, tuple(expect), description or (build.__doc__ or ""),
                          report))
        return build
    return register


# --- writers -------------------------------------------------------------------------------------

def _yaml(folder: Path, sources: list[dict], **extra) -> Path:
    doc = {"name": "corpus", "as_of": AS_OF, "phases": PHASES, "stage_mapping": MAPPING,
           "sources": sources}
    doc.update(extra)
    path = folder / "engagement.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _history(folder: Path, lines: list[str], *, header: str = "Deal;Fase;Datum",
             encoding: str = "utf-8", columns: dict | None = None, filename: str = "history.csv",
             **source) -> Path:
    """A Dutch history CSV (`;`, dd-mm-yyyy) from its data lines, plus the engagement YAML."""
    text = header + "\n" + "".join(line + "\n" for line in lines)
    (folder / filename).write_bytes(text.encode(encoding))
    if source.pop("encoding_declared", False):
        source["encoding"] = "utf-8"
    source = {"name": "history", "path": filename, "shape": "history",
              "columns": columns or HISTORY, "date_format": "dmy", **source}
    return _yaml(folder, [source])


def _snapshot(folder: Path, lines: list[str], *, header: str = "Deal;Fase;Aangemaakt",
              columns: dict | None = None, **source) -> Path:
    (folder / "deals.csv").write_text(header + "\n" + "".join(f"{x}\n" for x in lines),
                                      encoding="utf-8")
    source = {"name": "deals", "path": "deals.csv", "shape": "snapshot",
              "columns": columns or SNAPSHOT, "date_format": "dmy", **source}
    return _yaml(folder, [source])


_GOOD = ["D1;Suspect;03-01-2025", "D1;Lead;10-01-2025", "D2;Suspect;04-01-2025"]


# --- reading the file ----------------------------------------------------------------------------

@case("empty_file", "error", "history.csv", "empty")
def _(folder: Path) -> Path:
    """A 0-byte export (the CRM export failed)."""
    path = _history(folder, [])
    (folder / "history.csv").write_bytes(b"")
    return path


@case("header_only", "error", "history.csv", "no data rows")
def _(folder: Path) -> Path:
    """The header and nothing else (a filter that matched nothing)."""
    return _history(folder, [])


@case("wrong_delimiter_declared", "error", "history.csv", "delimiter", "','")
def _(folder: Path) -> Path:
    """A comma file declared as `;` (the Dutch default)."""
    return _history(folder, [line.replace(";", ",") for line in _GOOD], header="Deal,Fase,Datum",
                    delimiter=";")


@case("pipe_delimiter_sniffed", "ok")
def _(folder: Path) -> Path:
    """A `|` file with no delimiter declared: sniffed from the header."""
    return _history(folder, [line.replace(";", "|") for line in _GOOD], header="Deal|Fase|Datum")


@case("ragged_rows", "error", "history.csv", "row 3", "Fix:")
def _(folder: Path) -> Path:
    """A row with an unquoted delimiter inside a field: more fields than the header."""
    return _history(folder, ["D1;Suspect;03-01-2025", "D1;Lead;10-01-2025;extra;field"])


@case("blank_lines", "quarantine", "blank row")
def _(folder: Path) -> Path:
    """Blank lines between the data rows (hand-edited export): rows keep their numbers."""
    return _history(folder, ["D1;Suspect;03-01-2025", ";;", "D1;Lead;10-01-2025"])


@case("excel_saved_as_csv", "error", "history.csv", "Excel workbook")
def _(folder: Path) -> Path:
    """An .xlsx renamed to .csv."""
    import pandas as pd
    path = _history(folder, [])
    pd.DataFrame({"Deal": ["D1"], "Fase": ["Suspect"], "Datum": ["03-01-2025"]}).to_excel(
        folder / "book.xlsx", index=False)
    (folder / "history.csv").write_bytes((folder / "book.xlsx").read_bytes())
    return path


@case("utf16_file", "ok", "read as utf-16")
def _(folder: Path) -> Path:
    """Excel's 'Unicode text' export: UTF-16 with a byte-order mark."""
    return _history(folder, _GOOD, encoding="utf-16")


@case("duplicate_headers", "error", "history.csv", "'Datum' appears 2 times", "[3, 4]")
def _(folder: Path) -> Path:
    """Two columns named 'Datum': which one the YAML means is unknowable."""
    return _history(folder, [line + ";01-01-2024" for line in _GOOD], header="Deal;Fase;Datum;Datum")


@case("header_row_beyond_file", "error", "history.csv", "row 10 cannot be the header")
def _(folder: Path) -> Path:
    """`header_row: 10` on a four-line file."""
    return _history(folder, _GOOD, header_row=10)


@case("cp1252_encoding", "ok", "read as cp1252")
def _(folder: Path) -> Path:
    """A Windows (cp1252) export with a non-ASCII name and no declared encoding."""
    return _history(folder, ["D1;Suspect;03-01-2025;Zoë", "D2;Lead;04-01-2025;Jürgen"],
                    header="Deal;Fase;Datum;Contact", encoding="cp1252",
                    attributes={"contact": "Contact"})


@case("utf8_bom", "ok")
def _(folder: Path) -> Path:
    """UTF-8 with a byte-order mark before the first header."""
    path = _history(folder, _GOOD)
    data = (folder / "history.csv").read_bytes()
    (folder / "history.csv").write_bytes(b"\xef\xbb\xbf" + data)
    return path


@case("missing_required_column", "error", "history.csv", "'Datum'", "not found",
      "['Deal', 'Fase', 'Date']")
def _(folder: Path) -> Path:
    """The date column is named differently from what the YAML says."""
    return _history(folder, _GOOD, header="Deal;Fase;Date")


@case("extra_unknown_columns", "ok")
def _(folder: Path) -> Path:
    """Columns the YAML does not mention are ignored."""
    return _history(folder, [line + ";x;y" for line in _GOOD], header="Deal;Fase;Datum;Notes;Misc")


@case("xlsx_title_row_without_header_row", "error", "deals.xlsx", "row 3", "header_row: 3")
def _(folder: Path) -> Path:
    """An Excel tracker with a merged title row above the header; the YAML does not say so."""
    _title_workbook(folder / "deals.xlsx")
    return _yaml(folder, [{"name": "deals", "path": "deals.xlsx", "shape": "history",
                           "columns": HISTORY}])


@case("xlsx_title_row_with_header_row", "ok")
def _(folder: Path) -> Path:
    """The same tracker with `header_row: 3` declared."""
    _title_workbook(folder / "deals.xlsx")
    return _yaml(folder, [{"name": "deals", "path": "deals.xlsx", "shape": "history",
                           "columns": HISTORY, "header_row": 3}])


def _title_workbook(path: Path) -> None:
    from datetime import datetime

    from openpyxl import Workbook
    book = Workbook()
    sheet = book.active
    sheet.title = "Pipeline"
    sheet["A1"] = "Pipeline overview Q1 2025"
    sheet.merge_cells("A1:C1")
    sheet.append([])
    sheet.append(["Deal", "Fase", "Datum"])
    sheet.append(["D1", "Suspect", datetime(2025, 1, 3)])
    sheet.append(["D1", "Lead", datetime(2025, 1, 10)])
    sheet.append(["D2", "Suspect", datetime(2025, 1, 4)])
    book.create_sheet("Notes")
    book.save(path)


@case("csv_title_line_without_header_row", "error", "history.csv", "row 2 looks like the header",
      "header_row: 2")
def _(folder: Path) -> Path:
    """A CSV with an 'Export ...' line above the header."""
    path = _history(folder, _GOOD)
    text = (folder / "history.csv").read_text(encoding="utf-8")
    (folder / "history.csv").write_text("Export pipeline 30-06-2025\n" + text, encoding="utf-8")
    return path


@case("csv_excel_title_line_without_header_row", "error", "history.csv",
      "row 3 looks like the header", "header_row: 3")
def _(folder: Path) -> Path:
    """A CSV saved by Excel from a sheet with a title: 'Pipeline;;' and a blank line above the
    header."""
    path = _history(folder, _GOOD)
    text = (folder / "history.csv").read_text(encoding="utf-8")
    (folder / "history.csv").write_text("Pipeline;;\n;;\n" + text, encoding="utf-8")
    return path


@case("csv_title_line_with_header_row", "ok")
def _(folder: Path) -> Path:
    """The same CSV with `header_row: 2` declared: data rows keep their numbers in the file."""
    path = _history(folder, _GOOD, header_row=2)
    text = (folder / "history.csv").read_text(encoding="utf-8")
    (folder / "history.csv").write_text("Export pipeline 30-06-2025\n" + text, encoding="utf-8")
    return path


@case("declared_encoding_wrong", "error", "history.csv", "row 3", "encoding")
def _(folder: Path) -> Path:
    """`encoding: utf-8` declared on a cp1252 file."""
    return _history(folder, ["D1;Suspect;03-01-2025;Ann", "D2;Lead;04-01-2025;Zoë"],
                    header="Deal;Fase;Datum;Contact", encoding="cp1252", encoding_declared=True)


@case("sheet_position_out_of_range", "error", "deals.xlsx", "2 sheet(s)", "position 5")
def _(folder: Path) -> Path:
    """`sheet: 5` on a workbook with two sheets."""
    _title_workbook(folder / "deals.xlsx")
    return _yaml(folder, [{"name": "deals", "path": "deals.xlsx", "shape": "history",
                           "columns": HISTORY, "sheet": 5, "header_row": 3}])


@case("missing_sheet", "error", "deals.xlsx", "'Deals'", "'Pipeline'", "'Notes'")
def _(folder: Path) -> Path:
    """A sheet name that is not in the workbook: the error lists the sheets."""
    _title_workbook(folder / "deals.xlsx")
    return _yaml(folder, [{"name": "deals", "path": "deals.xlsx", "shape": "history",
                           "columns": HISTORY, "sheet": "Deals", "header_row": 3}])


# --- dates -----------------------------------------------------------------------------------------

@case("mixed_iso_and_dmy_dates", "ok")
def _(folder: Path) -> Path:
    """`2025-01-03` and `10-01-2025` in one column with `date_format: dmy`: ISO is unambiguous."""
    return _history(folder, ["D1;Suspect;2025-01-03", "D1;Lead;10-01-2025", "D2;Suspect;04-01-2025"])


@case("mixed_dmy_and_mdy_dates", "error", "history.csv", "'Datum'", "mixes day-month",
      "'25-01-2025'", "'01/26/2025'")
def _(folder: Path) -> Path:
    """25-01-2025 and 01/26/2025 in one column, no format declared: two orders in one column."""
    return _history(folder, ["D1;Suspect;25-01-2025", "D1;Lead;01/26/2025"], date_format=None)


@case("ambiguous_dates", "error", "history.csv", "'Datum'", "ambiguous", "03/04/2024",
      "date_format")
def _(folder: Path) -> Path:
    """03/04/2024 reads as 3 April and as 4 March; no format declared."""
    return _history(folder, ["D1;Suspect;03/04/2024", "D1;Lead;05/06/2024"], date_format=None)


@case("excel_serial_dates", "ok")
def _(folder: Path) -> Path:
    """Excel serial day numbers in a CSV (45660 = 2025-01-03)."""
    return _history(folder, ["D1;Suspect;45660", "D1;Lead;45667", "D2;Suspect;45661"])


@case("future_dates", "quarantine", "after the as-of date 2025-06-30", "'03-01-2052'")
def _(folder: Path) -> Path:
    """A typo year 2052 in a stage date (as_of is 2025-06-30)."""
    return _history(folder, _GOOD + ["D2;Lead;03-01-2052"])


@case("future_dates_without_as_of", "quarantine", "is after today", "'03-01-2099'")
def _(folder: Path) -> Path:
    """No `as_of` in the YAML: a date after today is the typo."""
    path = _history(folder, _GOOD + ["D2;Lead;03-01-2099"])
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    del doc["as_of"]
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


@case("future_dates_wide", "quarantine", "after the as-of date 2025-06-30", "'2052-02-01'")
def _(folder: Path) -> Path:
    """A wide tracker (a date column per stage) with a typo year in one stage date."""
    (folder / "deals.csv").write_text(
        "Deal;Suspect op;Lead op;Offerte op\n"
        "D1;2025-01-03;2025-01-10;\n"
        "D2;2025-01-04;2052-02-01;\n"
        "D3;2025-01-05;2025-01-06;2025-02-01\n", encoding="utf-8")
    return _yaml(folder, [{"name": "deals", "path": "deals.csv", "shape": "wide",
                           "columns": {"record_id": "Deal"},
                           "stage_column_pattern": "(?P<stage>.+) op$"}])


@case("dates_before_1990", "quarantine", "before 1990-01-01", "'03-01-1925'")
def _(folder: Path) -> Path:
    """A typo year 1925 in a stage date."""
    return _history(folder, _GOOD + ["D2;Lead;03-01-1925"])


@case("bad_date_format_directive", "error", "engagement.yaml", "sources[0].date_format",
      "'%d-%m-%Q'", "'Q' is a bad directive")
def _(folder: Path) -> Path:
    """A strftime format with a directive that does not exist."""
    return _history(folder, _GOOD, date_format="%d-%m-%Q")


@case("unknown_timezone", "error", "engagement.yaml", "timezone", "'Europe/Amsterdma'",
      "Europe/Amsterdam")
def _(folder: Path) -> Path:
    """A misspelt engagement time zone: the error suggests the nearest names."""
    return _yaml_with(_history(folder, _GOOD), timezone="Europe/Amsterdma")


@case("all_rows_quarantined", "quarantine", "unparseable date")
def _(folder: Path) -> Path:
    """`date_format: mdy` on a Dutch file whose days are above 12: nothing can be read; the
    engagement loads empty and the notes say so."""
    return _history(folder, ["D1;Suspect;13-01-2025", "D1;Lead;20-01-2025"], date_format="mdy")


@case("wide_row_without_dates", "quarantine", "no date in any of the 3 stage columns")
def _(folder: Path) -> Path:
    """A wide tracker row with no stage date and no creation date column."""
    (folder / "deals.csv").write_text(
        "Deal;Suspect op;Lead op;Offerte op\nD1;2025-01-03;2025-01-10;\nD2;;;\n", encoding="utf-8")
    return _yaml(folder, [{"name": "deals", "path": "deals.csv", "shape": "wide",
                           "columns": {"record_id": "Deal"},
                           "stage_column_pattern": "(?P<stage>.+) op$"}])


@case("mixed_timezones", "ok")
def _(folder: Path) -> Path:
    """ISO timestamps with and without an offset in one column: offsets are converted to the
    engagement's zone, naive stamps are read in it."""
    return _history(folder, ["D1,Suspect,2025-01-03T09:00:00Z", "D1,Lead,2025-01-10 11:00:00",
                             "D2,Suspect,2025-01-04T10:00:00+01:00"],
                    header="Deal,Fase,Datum", date_format="ymd")


# --- amounts -------------------------------------------------------------------------------------

_AMOUNT = {**HISTORY, "value": "Bedrag"}


@case("decimal_comma_amounts", "ok")
def _(folder: Path) -> Path:
    """Dutch amounts: decimal comma, point as thousands separator."""
    return _history(folder, ["D1;Suspect;03-01-2025;1.250,50", "D2;Suspect;04-01-2025;99,95"],
                    header="Deal;Fase;Datum;Bedrag", columns=_AMOUNT)


@case("currency_signs_euro", "ok")
def _(folder: Path) -> Path:
    """'€ 1.234,50' and 'EUR 2.000' style amounts."""
    return _history(folder, ["D1;Suspect;03-01-2025;€ 1.234,50", "D2;Suspect;04-01-2025;€ 10,00"],
                    header="Deal;Fase;Datum;Bedrag", columns=_AMOUNT)


@case("currency_signs_dollar", "ok")
def _(folder: Path) -> Path:
    """'$1,234.50' amounts in a comma file (quoted)."""
    return _history(folder, ['D1,Suspect,2025-01-03,"$1,234.50"', 'D2,Suspect,2025-01-04,$99.00'],
                    header="Deal,Fase,Datum,Bedrag", columns=_AMOUNT, date_format="ymd")


@case("mixed_separator_amounts", "ok")
def _(folder: Path) -> Path:
    """'€ 1.234,50' and '$1,234.50' in one column: each value's rightmost separator is its
    decimal one."""
    return _history(folder, ["D1;Suspect;03-01-2025;€ 1.234,50", "D2;Suspect;04-01-2025;$1,234.50"],
                    header="Deal;Fase;Datum;Bedrag", columns=_AMOUNT)


@case("non_numeric_amounts", "ok", "unparseable amount", "'n.v.t.'")
def _(folder: Path) -> Path:
    """'n.v.t.' as an amount: the stage change is kept, the amount left blank, and said so."""
    return _history(folder, ["D1;Suspect;03-01-2025;n.v.t.", "D2;Suspect;04-01-2025;500"],
                    header="Deal;Fase;Datum;Bedrag", columns=_AMOUNT)


@case("negative_amounts", "ok", "negative amount", "'-500'")
def _(folder: Path) -> Path:
    """A negative deal amount: the stage change is kept, the amount left blank, and said so."""
    return _history(folder, ["D1;Suspect;03-01-2025;-500", "D2;Suspect;04-01-2025;700"],
                    header="Deal;Fase;Datum;Bedrag", columns=_AMOUNT)


@case("non_numeric_amounts_snapshot", "ok", "unparseable amount", "'tbd'")
def _(folder: Path) -> Path:
    """An unparseable amount in a one-row-per-record file is not blanked silently."""
    return _snapshot(folder, ["D1;Offerte;03-01-2025;tbd", "D2;Lead;04-01-2025;100"],
                     header="Deal;Fase;Aangemaakt;Bedrag", columns={**SNAPSHOT, "value": "Bedrag"})


# --- records and ids -----------------------------------------------------------------------------

@case("leading_zero_ids", "ok")
def _(folder: Path) -> Path:
    """Record ids '007' and '0042' stay strings."""
    return _history(folder, ["007;Suspect;03-01-2025", "007;Lead;10-01-2025", "0042;Suspect;04-01-2025"])


@case("leading_zero_ids_xlsx", "ok")
def _(folder: Path) -> Path:
    """Ids typed as text ('007') in a workbook, with real Excel dates and a serial number."""
    from datetime import datetime

    from openpyxl import Workbook
    book = Workbook()
    sheet = book.active
    sheet.append(["Deal", "Fase", "Datum"])
    sheet.append(["007", "Suspect", datetime(2025, 1, 3)])
    sheet.append(["007", "Lead", 45667])
    sheet.append(["0042", "Suspect", datetime(2025, 1, 4)])
    book.save(folder / "deals.xlsx")
    return _yaml(folder, [{"name": "deals", "path": "deals.xlsx", "shape": "history",
                           "columns": HISTORY}])


@case("conflicting_records_file", "quarantine", "duplicate record id (first at row 2)",
      "Bedrag '1000' vs '2000'")
def _(folder: Path) -> Path:
    """A stage history plus a per-record file that lists one deal twice with other amounts."""
    (folder / "deals.csv").write_text("Id;Bedrag;Regio\nD1;1000;Noord\nD2;500;Oost\nD1;2000;Noord\n",
                                      encoding="utf-8")
    path = _history(folder, _GOOD, records={"path": "deals.csv", "columns": {
        "record_id": "Id", "value": "Bedrag"}, "attributes": {"region": "Regio"}})
    return path


@case("exact_duplicate_rows", "quarantine", "duplicate of row 2")
def _(folder: Path) -> Path:
    """The same stage change exported twice."""
    return _history(folder, ["D1;Suspect;03-01-2025", "D1;Suspect;03-01-2025", "D1;Lead;10-01-2025"])


@case("conflicting_attributes_history", "ok", "more than one value", "region")
def _(folder: Path) -> Path:
    """One deal with two regions in its stage rows: the latest is kept, and the notes say so."""
    return _history(folder, ["D1;Suspect;03-01-2025;Noord", "D1;Lead;10-01-2025;Zuid",
                             "D2;Suspect;04-01-2025;Oost"], header="Deal;Fase;Datum;Regio",
                    attributes={"region": "Regio"})


@case("conflicting_attributes_snapshot", "quarantine", "duplicate record id (first at row 2)",
      "differs", "Regio")
def _(folder: Path) -> Path:
    """One deal twice in a one-row-per-record file with different regions."""
    return _snapshot(folder, ["D1;Offerte;03-01-2025;Noord", "D2;Lead;04-01-2025;Oost",
                              "D1;Offerte;03-01-2025;Zuid"], header="Deal;Fase;Aangemaakt;Regio",
                     attributes={"region": "Regio"})


# --- stages and the phase model ------------------------------------------------------------------

@case("unknown_stage_names", "error", "history.csv", "'Demo gepland' (2 rows)", "stage_mapping")
def _(folder: Path) -> Path:
    """CRM stages the mapping does not know."""
    return _history(folder, _GOOD + ["D1;Demo gepland;11-01-2025", "D2;Demo gepland;12-01-2025"])


@case("unknown_stage_names_quarantined", "quarantine", "unknown stage 'Demo gepland'")
def _(folder: Path) -> Path:
    """The same with `unknown_stages: quarantine`."""
    path = _history(folder, _GOOD + ["D1;Demo gepland;11-01-2025"])
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["unknown_stages"] = "quarantine"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


@case("stage_mapped_twice_duplicate_key", "error", "engagement.yaml", "stage_mapping", "'Lead'",
      "more than once")
def _(folder: Path) -> Path:
    """`Lead:` twice under stage_mapping (YAML would silently keep the last)."""
    path = _history(folder, _GOOD)
    text = path.read_text(encoding="utf-8").replace("  Lead: lead\n",
                                                     "  Lead: lead\n  Lead: opportunity\n")
    path.write_text(text, encoding="utf-8")
    return path


@case("stage_spellings_fold_together", "error", "engagement.yaml", "stage_mapping", "'lead '",
      "'Lead'")
def _(folder: Path) -> Path:
    """'Lead' and 'lead ' map to different phases though the loader treats them as one stage."""
    return _yaml_with(_history(folder, _GOOD),
                      stage_mapping={**MAPPING, "lead ": "opportunity"})


@case("regressions", "ok")
def _(folder: Path) -> Path:
    """A deal moving back from Offerte to Potentieel (audited, never un-reaches a phase)."""
    return _history(folder, ["D1;Suspect;01-01-2025", "D1;Potentieel;05-01-2025",
                             "D1;Offerte;10-01-2025", "D1;Potentieel;12-01-2025",
                             "D1;Offerte;20-01-2025"])


@case("reopened_after_lost", "ok")
def _(folder: Path) -> Path:
    """Lost, then active again: the final state counts."""
    return _history(folder, ["D1;Suspect;01-01-2025", "D1;Potentieel;10-01-2025",
                             "D1;Verloren;20-01-2025", "D1;Potentieel;01-03-2025",
                             "D1;Offerte;10-03-2025"])


@case("events_after_close_history", "quarantine", "won stage reversed")
def _(folder: Path) -> Path:
    """Stage rows after a won row: the deal is open again, the won row is not an order."""
    return _history(folder, ["D1;Suspect;01-01-2025", "D1;Gewonnen;10-01-2025",
                             "D1;Offerte;15-01-2025"])


@case("closed_before_created_snapshot", "quarantine", "closed date '01-02-2025' is before the "
      "creation date '01-03-2025'")
def _(folder: Path) -> Path:
    """A lost deal closed a month before it was created: impossible, so set aside."""
    return _snapshot(folder, ["D1;Verloren;01-03-2025;01-02-2025", "D2;Lead;04-01-2025;"],
                     header="Deal;Fase;Aangemaakt;Gesloten",
                     columns={**SNAPSHOT, "closed_at": "Gesloten"})


@case("only_terminal_events", "ok")
def _(folder: Path) -> Path:
    """Deals whose only rows are 'Gewonnen' or 'Verloren'."""
    return _history(folder, ["D1;Gewonnen;10-01-2025", "D2;Verloren;12-01-2025",
                             "D3;Suspect;04-01-2025"])


@case("phase_order_contradicts_data", "error", "engagement.yaml", "'opportunity'", "'proposal'",
      "3 of 3", "reorder `phases`")
def _(folder: Path) -> Path:
    """`phases` declares Offerte before Potentieel, but every deal goes Potentieel -> Offerte."""
    swapped = [PHASES[0], PHASES[1], PHASES[3], PHASES[2], PHASES[4]]
    lines = []
    for i in (1, 2, 3):
        lines += [f"D{i};Suspect;0{i}-01-2025", f"D{i};Potentieel;1{i}-01-2025",
                  f"D{i};Offerte;2{i}-01-2025"]
    return _yaml_with(_history(folder, lines), phases=swapped)


# --- the YAML ------------------------------------------------------------------------------------

def _yaml_with(path: Path, **changes) -> Path:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc.update(changes)
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@case("yaml_key_typo", "error", "engagement.yaml", "stage_maping", "did you mean 'stage_mapping'")
def _(folder: Path) -> Path:
    """`stage_maping:` instead of `stage_mapping:`."""
    path = _history(folder, _GOOD)
    path.write_text(path.read_text(encoding="utf-8").replace("stage_mapping:", "stage_maping:"),
                    encoding="utf-8")
    return path


@case("yaml_source_key_typo", "error", "engagement.yaml", "delimeter", "did you mean 'delimiter'")
def _(folder: Path) -> Path:
    """`delimeter:` on a source."""
    path = _history(folder, _GOOD)
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["sources"][0]["delimeter"] = ";"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


@case("kpi_unknown_phase", "error", "engagement.yaml", "kpis[0].to_phase", "'offer'",
      "['target', 'lead', 'opportunity', 'proposal', 'order']")
def _(folder: Path) -> Path:
    """A KPI naming a phase that the model does not have."""
    return _yaml_with(_history(folder, _GOOD), kpis=[
        {"name": "lead_to_offer", "kind": "conversion", "from_phase": "lead", "to_phase": "offer"}])


@case("cohort_window_zero", "error", "engagement.yaml", "cohort_window_days", "greater than 0")
def _(folder: Path) -> Path:
    """`cohort_window_days: 0`: nothing could ever convert."""
    return _yaml_with(_history(folder, _GOOD), cohort_window_days=0)


@case("cohort_window_negative", "error", "engagement.yaml", "cohort_window_days", "-30")
def _(folder: Path) -> Path:
    """`cohort_window_days: -30`."""
    return _yaml_with(_history(folder, _GOOD), cohort_window_days=-30)


@case("kpi_window_zero", "error", "engagement.yaml", "kpis[0].window_days", "greater than 0")
def _(folder: Path) -> Path:
    """A KPI with `window_days: 0`."""
    return _yaml_with(_history(folder, _GOOD), kpis=[
        {"name": "c", "kind": "conversion", "from_phase": "lead", "to_phase": "opportunity",
         "window_days": 0}])


@case("kpi_window_negative", "error", "engagement.yaml", "kpis[0].window_days", "-7")
def _(folder: Path) -> Path:
    """A KPI with `window_days: -7`."""
    return _yaml_with(_history(folder, _GOOD), kpis=[
        {"name": "c", "kind": "conversion", "from_phase": "lead", "to_phase": "opportunity",
         "window_days": -7}])


# --- hostile input (issue 14): a CRM field is typed by anybody ----------------------------------
# Each value is data and must stay data: in the tables as typed, in the report as its characters,
# in a spreadsheet as text. What the report makes of them is checked on one run over all of them
# (test_hostile.py); here, how loading ends.

MARKUP = ("event ![x](secret.csv)", "event ![t](https://evil.example/t.png)",
          "event <img src=x onerror=alert(1)>", "[c](javascript:alert(1))",
          "<script>alert(1)</script>")
FORMULAS = ('=HYPERLINK("http://evil.example","click")', "+1+1", "-2+3", "@SUM(1)", "\tx")
PEOPLE = ("Ruud Hendriks", "Henk Medewerker", "Chloë Çelik", "thijs.peeters@example.com")


def _secret(folder: Path) -> None:
    (folder / "secret.csv").write_text("token;SECRET-7f3a9c\n", encoding="utf-8")


@case("markup_in_attribute_values", "ok", report=False)
def _(folder: Path) -> Path:
    """Markdown images (a local file, a remote one), an event handler, a javascript: link and a
    script tag typed as action values."""
    _secret(folder)
    return _history(folder, [f"D{i};Suspect;0{i}-01-2025;{v}" for i, v in enumerate(MARKUP, 1)],
                    header="Deal;Fase;Datum;Actie", attributes={"action": "Actie"})


@case("markup_in_phase_labels_and_stages", "ok", report=False)
def _(folder: Path) -> Path:
    """Phase labels and CRM stage names holding HTML and Markdown."""
    phases = [{**p, "label": f"{p['label']} <img src=x onerror=alert(1)>"} for p in PHASES]
    phases[1]["label"] = "Lead [c](javascript:alert(1))"
    mapping = {**MAPPING, "Lead <b onmouseover=alert(1)>x</b>": "lead"}
    return _yaml_with(_history(folder, _GOOD + ["D2;Lead <b onmouseover=alert(1)>x</b>;05-01-2025"]),
                      phases=phases, stage_mapping=mapping,
                      client="<img src=x onerror=alert(1)>", description="![x](secret.csv)")


@case("formulas_in_values", "quarantine", "unparseable date", "'=NOW()'", report=False)
def _(folder: Path) -> Path:
    """Spreadsheet formulas as attribute values, as a record id and as a date."""
    lines = [f"D{i};Suspect;0{i}-01-2025;{v}" for i, v in enumerate(FORMULAS, 1)]
    lines += ["=NOW();Lead;06-01-2025;x", "D1;Lead;=NOW();x"]
    return _history(folder, lines, header="Deal;Fase;Datum;Actie", attributes={"action": "Actie"})


@case("control_characters_in_values", "ok", report=False)
def _(folder: Path) -> Path:
    """Control characters (SOH, ESC, a unit separator) inside values."""
    return _history(folder, ["D1;Suspect;03-01-2025;event\x01", "D2;Suspect;04-01-2025;\x1b[31mred",
                             "D3;Suspect;05-01-2025;a\x1fb"],
                    header="Deal;Fase;Datum;Actie", attributes={"action": "Actie"})


@case("duplicate_id_with_personal_values", "quarantine", "duplicate record id (first at row 2)",
      "Contact (values not shown)", "Eigenaar (values not shown)", "Email (values not shown)",
      "Regio 'Noord' vs 'Zuid'", report=False)
def _(folder: Path) -> Path:
    """A record listed twice with another contact, owner and e-mail (and region): the reason names
    the personal columns, the owner and the column the YAML does not mention, never their values."""
    return _snapshot(folder, [
        f"D1;Offerte;03-01-2025;Noord;{PEOPLE[2]};{PEOPLE[0]};{PEOPLE[3]}",
        "D2;Lead;04-01-2025;Oost;Anna de Wit;Sanne de Vries;anna@example.com",
        f"D1;Offerte;03-01-2025;Zuid;Thijs Peeters;{PEOPLE[1]};t.peeters@example.com"],
        header="Deal;Fase;Aangemaakt;Regio;Contact;Eigenaar;Email",
        attributes={"region": "Regio", "contact": "Contact", "owner": "Eigenaar"},
        personal=["contact"])


@case("header_row_on_a_data_row", "error", "history.csv", "row 3", "looks like a data row",
      "header_row", report=False)
def _(folder: Path) -> Path:
    """`header_row: 3` on a file whose header is row 1: row 3 holds a contact's name, which the
    error must not print."""
    return _history(folder, [f"D1;Suspect;03-01-2025;{PEOPLE[0]}",
                             f"D2;Lead;04-01-2025;{PEOPLE[2]}", "D3;Lead;05-01-2025;Anna de Wit"],
                    header="Deal;Fase;Datum;Contact", attributes={"contact": "Contact"},
                    personal=["contact"], header_row=3)


@case("personal_entry_misspelt", "error", "engagement.yaml", "personal", "'contcat'",
      "did you mean 'contact'", report=False)
def _(folder: Path) -> Path:
    """`personal: [contcat]`: the real contact column would go unprotected."""
    return _history(folder, [f"D1;Suspect;03-01-2025;{PEOPLE[0]}"], header="Deal;Fase;Datum;Contact",
                    attributes={"contact": "Contact"}, personal=["contcat"])


@case("personal_entry_is_the_header", "error", "engagement.yaml", "'Contactpersoon'",
      "write 'contact'", report=False)
def _(folder: Path) -> Path:
    """`personal: [Contactpersoon]`, the file's header instead of the attribute's name."""
    return _history(folder, [f"D1;Suspect;03-01-2025;{PEOPLE[0]}"],
                    header="Deal;Fase;Datum;Contactpersoon",
                    attributes={"contact": "Contactpersoon"}, personal=["Contactpersoon"])


@case("engagement_name_is_a_path", "ok", report=False)
def _(folder: Path) -> Path:
    """`name: /tmp/../abs/evil`: the workbook is named after the engagement; it must stay in --out."""
    return _yaml_with(_history(folder, _GOOD), name="/tmp/../abs/evil")


# --- hostile input: the YAML, the files, the limits (issue 14) ----------------------------------

def _laughs(levels: int = 9) -> str:
    """A "billion laughs" YAML block: each level aliases the one below nine times (9**9 values)."""
    lines = ['  l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels + 1):
        lines.append(f"  l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]")
    return "report:\n" + "\n".join(lines) + "\n"


@case("yaml_billion_laughs", "error", "engagement.yaml", "aliases", "100,000", report=False)
def _(folder: Path) -> Path:
    """600 bytes of nested aliases that expand to 387 million values."""
    path = _history(folder, _GOOD)
    path.write_text(path.read_text(encoding="utf-8") + _laughs(), encoding="utf-8")
    return path


@case("yaml_not_utf8", "error", "engagement.yaml", "not UTF-8", "line 2", report=False)
def _(folder: Path) -> Path:
    """An engagement file saved in cp1252 by a Windows editor."""
    path = _history(folder, _GOOD)
    text = path.read_text(encoding="utf-8").replace("name: corpus", "name: corpus\nclient: Zoë B.V.")
    path.write_bytes(text.encode("cp1252"))
    return path


@case("source_is_a_fifo", "error", "history.csv", "not a regular file", report=False)
def _(folder: Path) -> Path:
    """`path:` names a named pipe: reading it would wait forever."""
    import os
    path = _history(folder, _GOOD)
    (folder / "history.csv").unlink()
    os.mkfifo(folder / "history.csv")
    return path


@case("source_links_to_dev_zero", "error", "history.csv", "not a regular file", report=False)
def _(folder: Path) -> Path:
    """A `.csv` symbolic link to /dev/zero: reading it would fill the memory."""
    path = _history(folder, _GOOD)
    (folder / "history.csv").unlink()
    (folder / "history.csv").symlink_to("/dev/zero")
    return path


@case("source_is_a_folder", "error", "history.csv", "is a folder", report=False)
def _(folder: Path) -> Path:
    """`path:` names a folder."""
    path = _history(folder, _GOOD)
    (folder / "history.csv").unlink()
    (folder / "history.csv").mkdir()
    return path


@case("source_link_loops", "error", "history.csv", "loops", report=False)
def _(folder: Path) -> Path:
    """A symbolic link that points at itself."""
    path = _history(folder, _GOOD)
    (folder / "history.csv").unlink()
    (folder / "history.csv").symlink_to(folder / "history.csv")
    return path


@case("source_path_with_nul", "error", "engagement.yaml", "sources[0].path", "NUL", report=False)
def _(folder: Path) -> Path:
    """A NUL character inside the path."""
    return _history(folder, _GOOD, path="hist\x00ory.csv")


@case("source_path_too_long", "error", "engagement.yaml", "sources[0].path", "characters long",
      report=False)
def _(folder: Path) -> Path:
    """A path of 5,000 characters."""
    return _history(folder, _GOOD, path="a/" * 2500 + "history.csv")


@case("field_over_the_limit", "error", "history.csv", "row 2", "131,072", report=False)
def _(folder: Path) -> Path:
    """A 200,000-character field in the first rows (a pasted document)."""
    return _history(folder, ["D1;Suspect;03-01-2025;" + "x" * 200_000, "D2;Lead;04-01-2025;y"],
                    header="Deal;Fase;Datum;Notitie")


@case("too_many_columns", "error", "history.csv", "columns, over the limit of 2,000",
      report=False)
def _(folder: Path) -> Path:
    """A header of 100,000 columns (a file of delimiters)."""
    return _history(folder, _GOOD, header="Deal;Fase;Datum" + ";" * 100_000)


@case("xlsx_damaged_sheet", "error", "deals.xlsx", "cannot", "save it again", report=False)
def _(folder: Path) -> Path:
    """A workbook whose zip is sound but whose sheet XML is not."""
    import zipfile
    _title_workbook(folder / "good.xlsx")
    with zipfile.ZipFile(folder / "good.xlsx") as src, zipfile.ZipFile(folder / "deals.xlsx",
                                                                        "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data[: len(data) // 2]  # cut off mid-element
            dst.writestr(item, data)
    (folder / "good.xlsx").unlink()
    return _yaml(folder, [{"name": "deals", "path": "deals.xlsx", "shape": "history",
                           "columns": HISTORY, "header_row": 3}])


@case("xlsx_unpacks_too_large", "error", "deals.xlsx", "unpacks to", "over the limit",
      report=False)
def _(folder: Path) -> Path:
    """A small workbook whose zip directory says a part unpacks to 4 GB (a zip bomb's header)."""
    import struct
    import zipfile
    _title_workbook(folder / "good.xlsx")
    with zipfile.ZipFile(folder / "good.xlsx") as src, zipfile.ZipFile(folder / "deals.xlsx",
                                                                        "w") as dst:
        for item in src.infolist():
            dst.writestr(item, src.read(item))
        dst.writestr("xl/media/padding.bin", b"0" * 100)
    (folder / "good.xlsx").unlink()
    data = bytearray((folder / "deals.xlsx").read_bytes())
    entry = data.rindex(b"PK\x01\x02")  # the padding's entry, last in the central directory
    data[entry + 24: entry + 28] = struct.pack("<I", 0xFFFFFFF0)  # its uncompressed size
    (folder / "deals.xlsx").write_bytes(bytes(data))
    return _yaml(folder, [{"name": "deals", "path": "deals.xlsx", "shape": "history",
                           "columns": HISTORY, "header_row": 3}])


@case("preset_without_the_shape", "error", "engagement.yaml", "has no 'wide' shape", report=False)
def _(folder: Path) -> Path:
    """A preset with a shape it does not describe."""
    return _history(folder, _GOOD, preset="salesforce", shape="wide")


@case("delimiter_of_two_characters", "error", "engagement.yaml", "sources[0].delimiter",
      "one character", report=False)
def _(folder: Path) -> Path:
    """`delimiter: ';;'`."""
    return _history(folder, _GOOD, delimiter=";;")


@case("delimiter_is_a_line_break", "error", "engagement.yaml", "sources[0].delimiter",
      "one character", report=False)
def _(folder: Path) -> Path:
    """`delimiter: "\\n"`."""
    return _history(folder, _GOOD, delimiter="\n")


@case("stage_pattern_not_a_regex", "error", "engagement.yaml", "stage_column_pattern",
      "not a valid regular expression", report=False)
def _(folder: Path) -> Path:
    """A wide source whose pattern does not compile."""
    return _history(folder, _GOOD, shape="wide", stage_column_pattern="(?P<stage>.+ op$")


@case("stage_pattern_without_stage_group", "error", "engagement.yaml", "stage_column_pattern",
      "no group named `stage`", report=False)
def _(folder: Path) -> Path:
    """A wide source whose pattern captures the stage without naming the group."""
    return _history(folder, _GOOD, shape="wide", stage_column_pattern="(.+) op$")


@case("cohort_window_of_a_million_days", "error", "engagement.yaml", "cohort_window_days",
      "3650", report=False)
def _(folder: Path) -> Path:
    """`cohort_window_days: 1000000` (a typo of 100)."""
    return _yaml_with(_history(folder, _GOOD), cohort_window_days=1_000_000)


@case("target_infinite", "error", "engagement.yaml", "targets", "finite", report=False)
def _(folder: Path) -> Path:
    """`orders_per_month: .inf`."""
    return _yaml_with(_history(folder, _GOOD), targets={"orders_per_month": float("inf")})


@case("as_of_year_9999", "error", "engagement.yaml", "as_of", "between 1990 and 2261",
      report=False)
def _(folder: Path) -> Path:
    """`as_of: 9999-12-31`, a placeholder."""
    return _yaml_with(_history(folder, _GOOD), as_of="9999-12-31")


@case("dates_in_years_9999_3000_0001", "quarantine", "has the year 9999", "has the year 3000",
      "has the year 1,", report=False)
def _(folder: Path) -> Path:
    """Placeholder and typo years in a CSV, day-first and ISO."""
    return _history(folder, _GOOD + ["D2;Lead;31-12-9999", "D2;Lead;3000-01-01",
                                     "D2;Offerte;01-01-0001"])


@case("xlsx_dates_in_year_9999", "quarantine", "has the year 9999", "has the year 1,",
      report=False)
def _(folder: Path) -> Path:
    """Real Excel dates in the years 9999 and 1."""
    from datetime import datetime

    from openpyxl import Workbook
    book = Workbook()
    sheet = book.active
    sheet.append(["Deal", "Fase", "Datum"])
    for row in (["D1", "Suspect", datetime(2025, 1, 3)], ["D1", "Lead", datetime(9999, 12, 31)],
                ["D2", "Suspect", datetime(1, 1, 1)], ["D2", "Lead", datetime(2025, 1, 4)]):
        sheet.append(row)
    book.save(folder / "deals.xlsx")
    return _yaml(folder, [{"name": "deals", "path": "deals.xlsx", "shape": "history",
                           "columns": HISTORY}])


@case("infinite_amounts", "ok", "not a finite amount", "'Infinity'", "'1e309'", report=False)
def _(folder: Path) -> Path:
    """'Infinity', 'inf' and '1e309' as amounts: left blank with a note, never summed."""
    return _history(folder, ["D1;Suspect;03-01-2025;Infinity", "D2;Suspect;04-01-2025;inf",
                             "D3;Suspect;05-01-2025;1e309", "D4;Suspect;05-01-2025;500"],
                    header="Deal;Fase;Datum;Bedrag", columns={**HISTORY, "value": "Bedrag"})


@case("segment_not_an_attribute", "error", "engagement.yaml", "segments", "'regio'",
      report=False)
def _(folder: Path) -> Path:
    """`segments: [regio]` where the attribute is called region: `run` needs it, so `validate`
    must refuse it."""
    return _yaml_with(_history(folder, ["D1;Suspect;03-01-2025;Noord"], header="Deal;Fase;Datum;Regio",
                               attributes={"region": "Regio"}), segments=["regio"])


@case("benchmarks_file_missing", "error", "engagement.yaml", "benchmark", report=False)
def _(folder: Path) -> Path:
    """A `benchmarks_file` that does not exist."""
    return _yaml_with(_history(folder, _GOOD), benchmarks_file="no-such-benchmarks.csv",
                      benchmark_stages={"lead": "mql", "order": "won"})


@case("duration_factors_bad", "error", "engagement.yaml", "duration_factors", report=False)
def _(folder: Path) -> Path:
    """A duration factor scored 9 on a 1-5 scale."""
    return _yaml_with(_history(folder, _GOOD), duration_factors={"staff_level": {"score": 9}})


@case("kpi_kind_unknown", "error", "engagement.yaml", "kpis", "'conversoin'", report=False)
def _(folder: Path) -> Path:
    """A KPI whose kind is misspelt."""
    return _yaml_with(_history(folder, _GOOD), kpis=[
        {"name": "c", "kind": "conversoin", "from_phase": "lead", "to_phase": "opportunity"}])


# --- hostile input, third round (issue 25): memory bombs, silent shifts, system files -----------

def _raw_workbook(path: Path, rows: list[list[str]], *, shared: list[str] = (),
                  shown: dict[str, int] | None = None) -> None:
    """A minimal .xlsx written by hand (as a bomb would be): `rows` as inline strings, plus the
    `shared` strings and the cells (`{"D2": 0}`) that show them."""
    import zipfile
    from xml.sax.saxutils import escape
    shown = shown or {}

    def column(i: int) -> str:
        return "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[i]

    body = []
    for r, row in enumerate(rows, 1):
        cells = "".join(f'<c r="{column(i)}{r}" t="inlineStr"><is><t>{escape(v)}</t></is></c>'
                        for i, v in enumerate(row))
        cells += "".join(f'<c r="{ref}" t="s"><v>{index}</v></c>' for ref, index in shown.items()
                         if ref.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ") == str(r))
        body.append(f'<row r="{r}">{cells}</row>')
    for ref, index in shown.items():  # cells on rows below `rows`
        r = int(ref.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
        if r > len(rows):
            body.append(f'<row r="{r}"><c r="{ref}" t="s"><v>{index}</v></c></row>')
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    parts = {
        "[Content_Types].xml":
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
            'package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.'
            'openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="'
            'application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.'
            'openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/'
            'worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
            'spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType='
            '"application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
            '</Types>',
        "_rels/.rels":
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
            'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="'
            f'{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml":
            f'<?xml version="1.0" encoding="UTF-8"?><workbook {ns} xmlns:r="{rel}"><sheets>'
            '<sheet name="Deals" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels":
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
            'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="'
            f'{rel}/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="'
            f'{rel}/sharedStrings" Target="sharedStrings.xml"/></Relationships>',
        "xl/worksheets/sheet1.xml":
            f'<?xml version="1.0" encoding="UTF-8"?><worksheet {ns}><sheetData>{"".join(body)}'
            '</sheetData></worksheet>',
        "xl/sharedStrings.xml":
            f'<?xml version="1.0" encoding="UTF-8"?><sst {ns} count="{len(shared)}" uniqueCount='
            f'"{len(shared)}">' + "".join(f"<si><t>{escape(s)}</t></si>" for s in shared)
            + "</sst>",
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as book:
        for name, text in parts.items():
            book.writestr(name, text)


_NOTE_ROWS = [["Deal", "Fase", "Datum", "Notitie"], ["D1", "Suspect", "2025-01-03", "kort"],
              ["D2", "Suspect", "2025-01-04", "kort"]]


def _workbook_yaml(folder: Path) -> Path:
    return _yaml(folder, [{"name": "deals", "path": "deals.xlsx", "shape": "history",
                           "columns": HISTORY, "attributes": {"note": "Notitie"}}])


@case("xlsx_raw_workbook_reads", "ok", report=False)
def _(folder: Path) -> Path:
    """The hand-written workbook of the bombs below, without a bomb: it loads (so the refusals
    below are the limits', not a damaged file's), a shared string and inline strings alike."""
    _raw_workbook(folder / "deals.xlsx", [row[:3] + (["Notitie"] if i == 0 else [])
                                          for i, row in enumerate(_NOTE_ROWS)],
                  shared=["gedeelde notitie"], shown={"D2": 0, "D3": 0})
    return _workbook_yaml(folder)


@case("xlsx_cell_over_the_limit", "error", "deals.xlsx", "row 3", "column 'D'", "cell D3",
      "131,072", report=False)
def _(folder: Path) -> Path:
    """A 200,000-character inline cell (the 63 KB workbook of issue 25 held 60 million): refused
    while the sheet streams out of the zip, before openpyxl builds the cell."""
    rows = [list(r) for r in _NOTE_ROWS]
    rows[2][3] = "x" * 200_000
    _raw_workbook(folder / "deals.xlsx", rows)
    return _workbook_yaml(folder)


@case("xlsx_shared_string_over_the_limit", "error", "deals.xlsx", "row 2", "cell D2", "131,072",
      report=False)
def _(folder: Path) -> Path:
    """The same text in the shared-string table, shown by cell D2."""
    rows = [r[:3] + (["Notitie"] if i == 0 else []) for i, r in enumerate(_NOTE_ROWS)]
    _raw_workbook(folder / "deals.xlsx", rows, shared=["x" * 200_000], shown={"D2": 0})
    return _workbook_yaml(folder)


@case("xlsx_unshown_shared_string_over_the_limit", "error", "deals.xlsx", "shared-string table",
      "131,072", report=False)
def _(folder: Path) -> Path:
    """A huge shared string no cell shows: openpyxl would still build it."""
    _raw_workbook(folder / "deals.xlsx", _NOTE_ROWS, shared=["x" * 200_000])
    return _workbook_yaml(folder)


@case("xlsx_shared_string_shown_everywhere", "error", "deals.xlsx", "characters together",
      report=False)
def _(folder: Path) -> Path:
    """One 100,000-character shared string (under the cell limit) shown in 1,400 cells: 140
    million characters once each cell is a value of its own, from a workbook of a few KB."""
    shown = {f"D{r}": 0 for r in range(2, 1402)}
    rows = [["Deal", "Fase", "Datum", "Notitie"]]
    _raw_workbook(folder / "deals.xlsx", rows, shared=["x" * 100_000], shown=shown)
    return _workbook_yaml(folder)


@case("xlsx_one_cell_at_the_end_of_the_sheet", "error", "deals.xlsx", "1,048,576 rows by 16,384",
      "XFD1048576", "2,000,000 cells", report=False)
def _(folder: Path) -> Path:
    """One value in the sheet's last cell, XFD1048576: pandas would build every cell of the 17
    billion between (a workbook of 2 KB)."""
    _raw_workbook(folder / "deals.xlsx", _NOTE_ROWS, shared=["x"], shown={"XFD1048576": 0})
    return _workbook_yaml(folder)


@case("xlsx_rows_far_below_the_table", "error", "deals.xlsx", "600,000 rows by 4 columns",
      "2,000,000 cells", report=False)
def _(folder: Path) -> Path:
    """A value in row 600,000 below a table of four columns: 2.4 million cells once read, each an
    object of about 200 bytes (a sheet of 2 million one-character cells is refused the same way,
    at the cell that passes the limit)."""
    _raw_workbook(folder / "deals.xlsx", _NOTE_ROWS, shared=["x"], shown={"A600000": 0})
    return _workbook_yaml(folder)


@case("amount_of_1e31", "ok", "not a plausible amount", "'1e31'")
def _(folder: Path) -> Path:
    """A won deal of 1e31 (finite, so it passed the infinity check) crashed the money formatting:
    left blank with a note, like an infinite amount."""
    return _history(folder, ["D1;Suspect;03-01-2025;1e31", "D1;Gewonnen;20-01-2025;1e31",
                             "D2;Suspect;04-01-2025;500", "D2;Gewonnen;21-01-2025;500"],
                    header="Deal;Fase;Datum;Bedrag", columns={**HISTORY, "value": "Bedrag"})


@case("csv_without_header_row", "error", "history.csv", "row 1", "data row", report=False)
def _(folder: Path) -> Path:
    """The header row is missing: row 1 holds a deal with a contact's name and e-mail address in
    columns declared personal. The error must not print them (test_hostile_round3 checks)."""
    path = _history(folder, [f"D2;Lead;04-01-2025;{PEOPLE[2]};{PEOPLE[3]}"],
                    header=f"D1;Suspect;03-01-2025;{PEOPLE[0]};{PEOPLE[3]}",
                    attributes={"contact": "Contact", "email": "Email"},
                    personal=["contact", "email"])
    return path


@case("extra_field_in_the_first_data_row", "error", "deals.csv", "row 2", "4 fields",
      report=False)
def _(folder: Path) -> Path:
    """`L1;1;web;extra` below a three-column header: pandas took the first column as the index and
    shifted every column (record ids became the 0/1 flags). Refused like the same field in row 3."""
    (folder / "deals.csv").write_text("Lead Number;Converted;Source\nL1;1;web;extra\nL2;0;web\n"
                                      "L3;1;web\nL4;0;mail\n", encoding="utf-8")
    doc = {"name": "corpus", "phases": PHASES[:2], "stage_mapping": {},
           "sources": [{"name": "leads", "path": "deals.csv", "shape": "snapshot", "dated": False,
                        "columns": {"record_id": "Lead Number", "is_won": "Converted"},
                        "attributes": {"lead_source": "Source"}}]}
    path = folder / "engagement.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


@case("benchmarks_file_links_to_dev_zero", "error", "engagement.yaml", "benchmarks_file",
      "not a regular file", report=False)
def _(folder: Path) -> Path:
    """A `benchmarks_file` that is a link to /dev/zero: refused like the same link as a source."""
    (folder / "bench.csv").symlink_to("/dev/zero")
    return _yaml_with(_history(folder, _GOOD), benchmarks_file="bench.csv",
                      benchmark_stages={"lead": "mql", "order": "won"})


@case("benchmarks_file_is_etc_passwd", "error", "engagement.yaml", "benchmarks_file",
      "operating system", report=False)
def _(folder: Path) -> Path:
    """A `benchmarks_file` pointing at /etc/passwd."""
    return _yaml_with(_history(folder, _GOOD), benchmarks_file="/etc/passwd",
                      benchmark_stages={"lead": "mql", "order": "won"})


@case("key_env_is_path", "error", "engagement.yaml", "privacy.key_env", "PATH", report=False)
def _(folder: Path) -> Path:
    """`privacy: {key_env: PATH}`: anybody can compute the pseudonyms with the machine's PATH."""
    return _yaml_with(_history(folder, _GOOD), privacy={"key_env": "PATH"})


@case("key_file_is_etc_passwd", "error", "engagement.yaml", "privacy.key_file", "/etc/passwd",
      report=False)
def _(folder: Path) -> Path:
    """`privacy: {key_file: /etc/passwd}`: a file every user of the machine can read."""
    return _yaml_with(_history(folder, _GOOD), privacy={"key_env": "NO_SUCH_KEY_VARIABLE_25",
                                                       "key_file": "/etc/passwd"})


@case("key_of_low_entropy", "error", "engagement.yaml", "privacy.key_file", "guess",
      report=False)
def _(folder: Path) -> Path:
    """A key file holding `aaaaaaaaaaaaaaaaaaaaaaaa`: long enough, but one guess finds it."""
    (folder / "weak.key").write_text("a" * 24 + "\n", encoding="utf-8")
    (folder / "weak.key").chmod(0o600)
    return _yaml_with(_history(folder, _GOOD), privacy={"key_env": "NO_SUCH_KEY_VARIABLE_25",
                                                       "key_file": "weak.key"})


def _yaml_line(path: Path, key: str, text: str) -> Path:
    """Set `key: text` as written (unquoted), as an analyst types it."""
    lines = [line for line in path.read_text(encoding="utf-8").splitlines()
             if not line.startswith(f"{key}:")]
    path.write_text("\n".join(lines + [f"{key}: {text}"]) + "\n", encoding="utf-8")
    return path


@case("as_of_february_29", "error", "engagement.yaml", "as_of", "2025-02-29", report=False)
def _(folder: Path) -> Path:
    """`as_of: 2025-02-29` (no leap year): YAML's own date reading crashed."""
    return _yaml_line(_history(folder, _GOOD), "as_of", "2025-02-29")


@case("as_of_with_a_time_zone", "error", "engagement.yaml", "as_of", "time zone", report=False)
def _(folder: Path) -> Path:
    """`as_of: 2025-06-30T23:59:59+14:00`: a moment in another zone; compared with the data's
    dates it crashed."""
    return _yaml_line(_history(folder, _GOOD), "as_of", "2025-06-30T23:59:59+14:00")


@case("cost_period_not_a_period", "error", "engagement.yaml", "costs[0].period", "<u>x</u>",
      report=False)
def _(folder: Path) -> Path:
    """A cost period that is not a period label: `validate` said ok and `run` refused it."""
    return _yaml_with(_history(folder, _GOOD),
                      costs=[{"action": "event", "cost": 1000, "period": "<u>x</u>"}])


@case("target_of_1e308", "error", "engagement.yaml", "targets", "orders_per_month",
      report=False)
def _(folder: Path) -> Path:
    """`orders_per_month: 1e308`: finite, yet no order target."""
    return _yaml_with(_history(folder, _GOOD), targets={"orders_per_month": 1e308})


@case("target_negative", "error", "engagement.yaml", "targets", "conversion_lead_opportunity",
      report=False)
def _(folder: Path) -> Path:
    """A conversion target of -5."""
    return _yaml_with(_history(folder, _GOOD), targets={"conversion_lead_opportunity": -5})


@case("source_links_to_etc_passwd", "error", "history.csv", "operating system", report=False)
def _(folder: Path) -> Path:
    """A `.csv` link to /etc/passwd: it was read and its first line quoted in the error."""
    path = _history(folder, _GOOD)
    (folder / "history.csv").unlink()
    (folder / "history.csv").symlink_to("/etc/passwd")
    return path


@case("source_links_to_proc_environ", "error", "history.csv", "operating system", report=False)
def _(folder: Path) -> Path:
    """A `.csv` link to /proc/self/environ (size 0 on disk, the process's secrets inside)."""
    path = _history(folder, _GOOD)
    (folder / "history.csv").unlink()
    (folder / "history.csv").symlink_to("/proc/self/environ")
    return path


@case("look_alike_segments", "ok", "look alike", report=False)
def _(folder: Path) -> Path:
    """"event", "event" + a zero-width space and "еvent" with a Cyrillic е: the zero-width space
    is folded away, the Cyrillic spelling is noted; a right-to-left override stays data."""
    return _history(folder, ["D1;Suspect;03-01-2025;event", "D2;Suspect;04-01-2025;event\u200b",
                             "D3;Suspect;05-01-2025;\u0435vent", "D4;Suspect;06-01-2025;a\u202eb"],
                    header="Deal;Fase;Datum;Actie", attributes={"action": "Actie"})


@case("cohort_window_true", "error", "engagement.yaml", "cohort_window_days", "true",
      report=False)
def _(folder: Path) -> Path:
    """`cohort_window_days: true` was taken as 1 day."""
    return _yaml_with(_history(folder, _GOOD), cohort_window_days=True)


@case("header_row_true", "error", "engagement.yaml", "sources[0].header_row", "true/false",
      report=False)
def _(folder: Path) -> Path:
    """`header_row: yes` was taken as row 1."""
    return _history(folder, _GOOD, header_row=True)


@case("engagement_name_empty", "error", "engagement.yaml", "name", report=False)
def _(folder: Path) -> Path:
    """`name: ""`: the report and its workbook are named after it."""
    return _yaml_with(_history(folder, _GOOD), name="")


@case("cp1252_history_first_column_cut", "error", "history.csv", "'Deal ID'", "not found",
      report=False)
def _(folder: Path) -> Path:
    """A cp1252 history export whose first column was cut off, with rows of another width: the
    reader's handler for those rows decoded them as UTF-8 and printed a traceback (twice) before
    the right error."""
    lines = ["Suspect;03-01-2025;Zoë", "Lead;10-01-2025", "Suspect;Jürgen"]
    return _history(folder, lines, header="Fase;Datum;Contact", encoding="cp1252",
                    columns={**HISTORY, "record_id": "Deal ID"})
