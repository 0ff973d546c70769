"""Check that a loader change leaves every loaded table as it was: dump the tables the loader
builds for many engagements once with the code before the change, then compare after each change.

    PYTHONPATH=. python benchmarks/loaded_tables.py dump    DIR [--big EXPORT_DIR ...]
    PYTHONPATH=. python benchmarks/loaded_tables.py compare DIR [--big EXPORT_DIR ...]

The engagements: the demo and its snapshot, the five real samples as `tests/samples.py` (and
`tests/conftest.py`) configure them, the lead-list reading of the Pipedrive sample, every case of
the bad-input corpus (`tests/corpus.py`), a few dozen histories on the loader's own edges
(`EDGES`: repeats, ties, reversed wins, headers in another case, missing columns, a stage for the
whole file, quotes, blank markers...; and snapshot and wide files: repeated records, flags that
overrule stages, bad dates, unknown stage columns...), and each `--big` folder (an export made by
`benchmarks/bench_load.py`). For each: every table `Engagement` exposes after a cold load (dtypes,
categories, index and column order included), its notes and shapes, or the exception's type and
message when loading raises. Corpus cases are built in a fixed folder so the paths in messages
compare. Needs ../shared (the samples) beside the repository.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "benchmarks"))
from dumps import dump_or_compare, dump_parser, fresh_folder  # noqa: E402

os.environ["FUNNEL_KEY"] = "loaded-tables-check-key-0123456789"

TABLES = ("events", "records", "stage_log", "quarantine", "reconciliation", "outcome_mismatches")
BUILD = Path("/tmp/loaded_tables_cases")  # fixed: paths in messages must compare


def engagements(bigs: list[Path]):
    """(name, function building the engagement YAML and returning its path)."""
    import conftest
    from corpus import CASES
    from samples import ENGAGEMENTS, write_sample_engagement

    def folder(name: str) -> Path:
        return fresh_folder(BUILD, name)

    yield "demo", lambda: REPO / "data/demo/engagement.yaml"
    yield "demo_snapshot", lambda: REPO / "data/demo/engagement_snapshot.yaml"
    yield "salesforce", lambda: conftest.write_salesforce_engagement(folder("salesforce"))
    for name in ENGAGEMENTS:
        yield f"sample_{name}", (lambda n=name: write_sample_engagement(folder(n), n))

    def lead_list() -> Path:
        path = write_sample_engagement(folder("bec_leads"), "pipedrive_bec")
        path.write_text(path.read_text().replace("as_of: 2018-06-30\n", "").replace(
            "  preset: pipedrive\n", "  preset: pipedrive\n  dated: false\n"))
        return path
    yield "sample_pipedrive_bec_lead_list", lead_list
    for c in CASES:
        yield f"corpus_{c.name}", (lambda c=c: c.build(folder("case_" + c.name)))
    for name in EDGES:
        yield f"edge_{name}", (lambda n=name: write_edge(folder("edge_" + n), n))
    for big in bigs:
        yield f"big_{big.name}", (lambda b=big: b / "engagement.yaml")


_PHASES = [{"key": "lead", "label": "Lead"}, {"key": "offer", "label": "Offer"},
           {"key": "order", "label": "Order"}]
_MAPPING = {"Lead": "lead", "Offerte": "offer", "Gewonnen": "won", "Verloren": "lost",
            "Test": "ignore"}
_HEADER = "Deal ID;Fase;Datum;Bedrag;Regio;Eigenaar;Verwijderd"
_ROWS = [
    "D10;Lead;02-01-2024 09:00;100;Noord;Ann;0", "D9;Lead;02-01-2024 09:00;200;Zuid;Bob;0",
    "D9;Lead;02-01-2024 09:00;200;Zuid;Bob;0", "D9; lead ;02-01-2024 09:00;200;Zuid;Bob;0",
    "D10;Offerte;05-01-2024 10:00;150;Noord;Cy;0", "D10;Gewonnen;05-01-2024 10:00;150;Noord;Cy;0",
    "D10;Verloren;06-01-2024 10:00;;Noord;Cy;0", ";;;;;;", "D11;Lead;03-01-2024 09:00;x;West;Dee;1",
    "D12;Test;03-01-2024 09:00;;West;Dee;0", "D13;Lead;31-02-2024 09:00;;West;Dee;0",
    "D13;Lead;01-03-2024 09:00;-5;West;Dee;0", "D13;Offerte;01-03-2024 09:00;7;Oost;Dee;0",
    "D13;Lead;01-03-2024 09:00;;Oost;;0", "D2;Gewonnen;04-03-2024 12:00;1.000,50;Oost;Ed;0",
    "D2;Lead;01-03-2024 12:00;;;Ed;0", "D14;Lead;01-01-1985 09:00;;Noord;Fay;0",
    "D15;Lead;01-01-2030 09:00;;Noord;Fay;0"]
_COLUMNS = {"record_id": "Deal ID", "stage": "Fase", "changed_at": "Datum", "value": "Bedrag",
            "is_deleted": "Verwijderd"}
_PLAIN = {"record_id": "Deal ID", "stage": "Fase", "changed_at": "Datum"}
_MORE = ["D30;Lead;01-01-2024 09:00;;noord;Ann;0", "D30;Offerte;02-01-2024 09:00;;Noord ;Ann;0"]
# name: (file text, source settings over the default ones, engagement settings)
EDGES: dict[str, tuple[str, dict, dict]] = {
    "dirty": ("", {}, {}),
    "headers_in_another_case": ("", {"columns": {
        "record_id": "deal id", "stage": "FASE", "changed_at": "datum", "value": "bedrag",
        "is_deleted": "Verwijderd"}, "attributes": {"region": "regio", "owner": "EIGENAAR"}}, {}),
    "missing_value_column": ("", {"columns": {**_PLAIN, "value": "Amount"}}, {}),
    "missing_attribute_column": ("", {"attributes": {"region": "Region"}}, {}),
    "missing_date_column": ("", {"columns": {**_PLAIN, "changed_at": "Date"}}, {}),
    "missing_stage_column": ("", {"columns": {**_PLAIN, "stage": "Stage"}}, {}),
    "missing_id_column": ("", {"columns": {**_PLAIN, "record_id": "Deal"}}, {}),
    "unknown_stage_before_missing_date_column": (
        "\n".join([_HEADER, *_ROWS, "D20;Raar;01-01-2024 09:00;;;;0"]),
        {"columns": {**_PLAIN, "changed_at": "Date"}}, {"unknown_stages": "error"}),
    "one_stage_for_the_file": ("", {"columns": {"record_id": "Deal ID", "changed_at": "Datum",
                                                "value": "Bedrag"}, "stage": "Gewonnen"}, {}),
    "one_stage_for_the_file_missing_value": ("", {"columns": {
        "record_id": "Deal ID", "changed_at": "Datum", "value": "Amount"}, "stage": "Gewonnen"}, {}),
    "quoted_line_break": (_HEADER + '\nD1;Lead;02-01-2024 09:00;;"No\nord";Ann;0\n'
                          "D1;Offerte;03-01-2024 09:00;;Noord;Ann;0", {}, {}),
    "crlf_without_quotes": ("\r\n".join([_HEADER, *_ROWS]), {}, {}),
    "creation_date_column": (
        "\n".join([_HEADER + ";Aangemaakt"] + [r + (";01-01-2024" if i % 3 else ";")
                                               for i, r in enumerate(_ROWS)]),
        {"columns": {**_PLAIN, "created_at": "Aangemaakt"}}, {}),
    "creation_date_column_in_another_case": (
        "\n".join([_HEADER + ";Aangemaakt"] + [r + ";01-01-2024" for r in _ROWS]),
        {"columns": {**_PLAIN, "created_at": "aangemaakt"}}, {}),
    "owner_pseudonymised": ("", {}, {"privacy": {"owner_names": "pseudonymise"}}),
    "blank_marker": ("", {}, {"missing_values": ["Noord"]}),
    "spellings_folded": ("\n".join([_HEADER, *_ROWS, *_MORE]), {}, {}),
    "spellings_kept": ("\n".join([_HEADER, *_ROWS, *_MORE]), {}, {"fold_categories": False}),
    "every_row_set_aside": ("\n".join([_HEADER, "D1;Lead;;;;;0", ";;;;;;"]), {}, {}),
    "one_row": ("\n".join([_HEADER, "D1;Lead;02-01-2024 09:00;;;;0"]), {}, {}),
    "columns_nobody_reads": ("\n".join([_HEADER + ";Extra;Meer"] + [r + ";x;y" for r in _ROWS]),
                             {"attributes": {"region": "Regio"}}, {}),
    "attribute_is_the_stage_column": ("", {"attributes": {"stage_name": "Fase"}}, {}),
    "attribute_named_as_its_header": ("", {"attributes": {"Regio": "Regio"}}, {}),
    "amount_is_the_date_column": ("", {"columns": {**_PLAIN, "value": "Datum"}}, {}),
    "other_currency": (
        "\n".join([_HEADER + ";Munt"] + [r + (";USD" if i % 4 == 0 else ";EUR")
                                         for i, r in enumerate(_ROWS)]),
        {"columns": {**_COLUMNS, "currency": "Munt"}}, {}),
}

# One-row-per-record files (snapshot and wide): repeated records that agree or differ, ids whose
# text order is neither the file's nor the number's, blank, deleted and id-less rows, unknown and
# ignored stages, bad dates, flags that overrule the stages.
_SNAP_HEADER = "Deal ID;Fase;Verloren bij;Aangemaakt;Gesloten;Bedrag;Regio;Eigenaar;Verwijderd;Status"
_SNAP_ROWS = [
    "D10;Lead;;02-01-2024;;100;Noord;Ann;0;open", "D9;Offerte;;02-01-2024;;200;Zuid;Bob;0;open",
    "D9;Offerte;;02-01-2024;;200;Zuid;Bob;0;open", "D9;Lead;;02-01-2024;;250;West;Bob;0;open",
    "D2;Gewonnen;;03-01-2024;05-02-2024;1.000,50;Oost;Ed;0;won",
    "D3;Verloren;Offerte;03-01-2024;06-02-2024;;Oost;Ed;0;lost",
    "D4;Verloren;;03-01-2024;06-02-2024;5;Oost;;0;lost", "D5;Verloren;Raar;03-01-2024;;;;;0;lost",
    ";;;;;;;;;", "D6;Lead;;31-02-2024;;;West;Dee;0;open", "D7;Test;;03-01-2024;;;West;Dee;0;open",
    "D8;Lead;;03-01-2024;;x;West;Dee;1;open", ";Lead;;03-01-2024;;;West;Dee;0;open",
    "D11;Gewonnen;;04-01-2024;;-5;Noord;Fay;0;won",
    "D12;Offerte;;05-03-2024;01-03-2024;;Noord;Fay;0;lost",
    "D13;Gewonnen;;05-03-2024;07-03-2024;7;noord ;Fay;0;open",
    "D14;Lead;;01-01-1985;;;Noord;Fay;0;open", "D1;Offerte;;01-01-2030;;;Noord;Fay;0;Raar",
    "D100;Offerte;;06-03-2024;;;Zuid;Ann;0;lost", "D20;Lead;;06-03-2024;;;Zuid ;Ann;0;won"]
_SNAP_COLUMNS = {"record_id": "Deal ID", "current_stage": "Fase", "lost_at_stage": "Verloren bij",
                 "created_at": "Aangemaakt", "closed_at": "Gesloten", "value": "Bedrag",
                 "is_deleted": "Verwijderd"}
_WIDE_HEADER = ("Deal ID;Aangemaakt;Lead op;Offerte op;Gewonnen op;Verloren op;Test op;Gesloten;"
                "Bedrag;Regio;Eigenaar;Verwijderd;Status")
_WIDE_ROWS = [
    "D10;02-01-2024;02-01-2024 09:00;05-01-2024 10:00;;;;;100;Noord;Ann;0;open",
    "D9;02-01-2024;02-01-2024 09:00;;;;;;200;Zuid;Bob;0;open",
    "D9;02-01-2024;02-01-2024 09:00;;;;;;200;Zuid;Bob;0;open",
    "D9;02-01-2024;03-01-2024 09:00;;;;;;250;West;Bob;0;open",
    "D2;03-01-2024;03-01-2024 09:00;04-01-2024 09:00;05-02-2024 10:00;;;;1.000,50;Oost;Ed;0;won",
    "D3;03-01-2024;03-01-2024 09:00;04-01-2024 09:00;05-02-2024 10:00;06-02-2024 10:00;;;;Oost;Ed;0;won",
    "D4;03-01-2024;03-01-2024 09:00;;06-02-2024 10:00;05-02-2024 10:00;;;5;Oost;;0;lost",
    "D5;03-01-2024;;;;06-02-2024 10:00;;;;;;0;lost", ";;;;;;;;;;;;",
    "D6;03-01-2024;31-02-2024 09:00;;;;;;;West;Dee;0;open",
    "D7;03-01-2024;;;;;03-01-2024 09:00;;;West;Dee;0;open",
    "D8;03-01-2024;03-01-2024 09:00;;;;;;x;West;Dee;1;open",
    ";03-01-2024;03-01-2024 09:00;;;;;;;West;Dee;0;open",
    "D11;04-01-2024;04-01-2024 09:00;04-01-2024 09:00;04-01-2024 09:00;;;;-5;Noord;Fay;0;won",
    "D12;05-03-2024;05-03-2024 09:00;;;;;07-03-2024;;Noord;Fay;0;won",
    "D13;05-03-2024;05-03-2024 09:00;06-03-2024 09:00;01-03-2024 09:00;;;;7;noord ;Fay;0;won",
    "D14;01-01-1985;;;;;;;;Noord;Fay;0;open", "D1;06-03-2024;;;;;;;;Noord;Fay;0;Raar",
    "D100;06-03-2024;06-03-2024 09:00;07-03-2024 09:00;;;;;;Zuid;Ann;0;lost",
    "D20;;;;;;;;;Zuid ;Ann;0;won", "D21;06-03-2024;06-03-2024 09:00;01-01-2030 09:00;;;;;;Zuid;Ann;0;open"]
_WIDE_STAGES = {"Lead op": "Lead", "Offerte op": "Offerte", "Gewonnen op": "Gewonnen",
                "Verloren op": "Verloren", "Test op": "Test"}
_WIDE_COLUMNS = {"record_id": "Deal ID", "created_at": "Aangemaakt", "value": "Bedrag",
                 "is_deleted": "Verwijderd"}
_SNAP = {"shape": "snapshot", "columns": _SNAP_COLUMNS}
_WIDE = {"shape": "wide", "columns": _WIDE_COLUMNS, "stage_columns": _WIDE_STAGES}
_SNAP_TEXT, _WIDE_TEXT = "\n".join([_SNAP_HEADER, *_SNAP_ROWS]), "\n".join([_WIDE_HEADER, *_WIDE_ROWS])
_NO_CREATED = {k: v for k, v in _WIDE_COLUMNS.items() if k != "created_at"}
EDGES.update({
    "snapshot": (_SNAP_TEXT, _SNAP, {}),
    "snapshot_status_wins": (_SNAP_TEXT, {**_SNAP, "columns": {**_SNAP_COLUMNS,
                                                                "status": "Status"}}, {}),
    "snapshot_converted_flag": (_SNAP_TEXT.replace(";open", ";0").replace(";won", ";1").replace(
        ";lost", ";0"), {**_SNAP, "columns": {**_SNAP_COLUMNS, "is_won": "Status"}}, {}),
    "snapshot_without_lost_at_stage": (_SNAP_TEXT, {**_SNAP, "columns": {
        k: v for k, v in _SNAP_COLUMNS.items() if k != "lost_at_stage"}}, {}),
    "snapshot_created_phase": (_SNAP_TEXT, {**_SNAP, "created_phase": "offer"}, {}),
    "snapshot_undated_lead_list": (_SNAP_TEXT, {**_SNAP, "dated": False, "columns": {
        k: v for k, v in _SNAP_COLUMNS.items() if k not in ("created_at", "closed_at")}}, {}),
    "snapshot_unknown_stage_is_an_error": (_SNAP_TEXT, _SNAP, {"unknown_stages": "error"}),
    "snapshot_spellings_kept": (_SNAP_TEXT, _SNAP, {"fold_categories": False}),
    "snapshot_owner_pseudonymised": (_SNAP_TEXT, _SNAP, {"privacy": {"owner_names": "pseudonymise"}}),
    "snapshot_missing_created_column": (_SNAP_TEXT, {**_SNAP, "columns": {
        **_SNAP_COLUMNS, "created_at": "Created"}}, {}),
    "wide": (_WIDE_TEXT, _WIDE, {}),
    "wide_status_wins": (_WIDE_TEXT, {**_WIDE, "columns": {**_WIDE_COLUMNS, "status": "Status",
                                                            "closed_at": "Gesloten"}}, {}),
    "wide_status_without_close_date": (_WIDE_TEXT, {**_WIDE, "columns": {
        **_WIDE_COLUMNS, "status": "Status"}}, {}),
    "wide_without_created_column": (_WIDE_TEXT, {**_WIDE, "columns": _NO_CREATED}, {}),
    "wide_stage_column_pattern": (_WIDE_TEXT, {**_WIDE, "stage_columns": {},
                                               "stage_column_pattern": "^(?P<stage>.+) op$"}, {}),
    "wide_stage_columns_reversed": (_WIDE_TEXT, {**_WIDE, "stage_columns": {
        v: k for k, v in _WIDE_STAGES.items()}}, {}),
    "wide_unknown_stage_column": (_WIDE_TEXT, {**_WIDE, "stage_columns": {
        **_WIDE_STAGES, "Gesloten": "Raar"}}, {}),
    "wide_unknown_stage_column_is_an_error": (_WIDE_TEXT, {**_WIDE, "stage_columns": {
        **_WIDE_STAGES, "Gesloten": "Raar"}}, {"unknown_stages": "error"}),
    "wide_blank_marker": (_WIDE_TEXT, _WIDE, {"missing_values": ["Noord"]}),
    "wide_one_row": ("\n".join([_WIDE_HEADER, _WIDE_ROWS[0]]), _WIDE, {}),
    "wide_every_row_set_aside": ("\n".join([_WIDE_HEADER, _WIDE_ROWS[8], _WIDE_ROWS[12]]), _WIDE, {}),
})


def write_edge(folder: Path, name: str) -> Path:
    """One of `EDGES` as a CSV and an engagement YAML in `folder`."""
    import yaml
    text, source, engagement = EDGES[name]
    (folder / "h.csv").write_text((text or "\n".join([_HEADER, *_ROWS])) + "\n")
    doc = {"name": "edge", "as_of": "2025-06-30", "phases": _PHASES, "stage_mapping": _MAPPING,
           "unknown_stages": "quarantine", "sources": [{
               "name": "h", "path": "h.csv", "shape": "history", "date_format": "dmy",
               "decimal": ",", "columns": _COLUMNS,
               "attributes": {"region": "Regio", "owner": "Eigenaar"}, **source}], **engagement}
    (folder / "engagement.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return folder / "engagement.yaml"


def load(yaml_path: Path) -> dict:
    from toolkit import Engagement
    from toolkit.base.exceptions import ToolkitError
    try:
        e = Engagement.from_yaml(yaml_path, use_cache=False)
    except (ToolkitError, ValueError, OSError) as exc:
        return {"error": (type(exc).__name__, str(exc))}
    except Exception as exc:  # a crash is recorded too (a change may fix one, or cause one)
        return {"error": (f"crash: {type(exc).__name__}", str(exc))}
    out = {t: getattr(e._loaded, t) for t in TABLES}
    out["notes"] = list(e._loaded.notes)
    out["shapes"] = list(e._loaded.shapes)
    return out


def differences(before: dict, after: dict) -> list[str]:
    if before.keys() != after.keys():
        return [f"keys {sorted(before)} != {sorted(after)}: {before.get('error') or after.get('error')}"]
    found = []
    for key, was in before.items():
        now = after[key]
        if isinstance(was, pd.DataFrame):
            try:
                pd.testing.assert_frame_equal(was, now, check_exact=True, check_dtype=True,
                                              check_categorical=True, check_column_type=True,
                                              check_index_type=True, check_freq=True)
                if list(was.columns) != list(now.columns):
                    raise AssertionError("column order")
                for col in was.columns:
                    if isinstance(was[col].dtype, pd.CategoricalDtype):
                        if list(was[col].cat.categories) != list(now[col].cat.categories):
                            raise AssertionError(f"{col}: categories differ")
                    if was[col].dtype == object:  # same Python types inside (str vs float NaN)
                        if list(map(type, was[col])) != list(map(type, now[col])):
                            raise AssertionError(f"{col}: element types differ")
            except AssertionError as exc:
                found.append(f"{key}: {str(exc)[:600]}")
        elif was != now:
            found.append(f"{key}: {str(was)[:300]} != {str(now)[:300]}")
    return found


def main() -> int:
    args = dump_parser(__doc__.split("\n")[0]).parse_args()
    cases = ((name, build) for name, build in engagements(args.big) if args.k in name)
    return dump_or_compare(args.action, args.dir, cases, lambda build: load(build()), differences)

if __name__ == "__main__":
    raise SystemExit(main())
