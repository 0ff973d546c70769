"""Check that a loader change leaves every loaded table as it was: dump the tables the loader
builds for many engagements once with the code before the change, then compare after each change.

    PYTHONPATH=. python benchmarks/loaded_tables.py dump    DIR [--big EXPORT_DIR ...]
    PYTHONPATH=. python benchmarks/loaded_tables.py compare DIR [--big EXPORT_DIR ...]

The engagements: the demo and its snapshot, the five real samples as `tests/samples.py` (and
`tests/conftest.py`) configure them, the lead-list reading of the Pipedrive sample, every case of
the bad-input corpus (`tests/corpus.py`), a few dozen histories on the loader's own edges
(`EDGES`: repeats, ties, reversed wins, headers in another case, missing columns, a stage for the
whole file, quotes, blank markers...), and each `--big` folder (an export made by
`benchmarks/bench_load.py`). For each: every table `Engagement` exposes after a cold load (dtypes,
categories, index and column order included), its notes and shapes, or the exception's type and
message when loading raises. Corpus cases are built in a fixed folder so the paths in messages
compare. Needs ../shared (the samples) beside the repository.
"""

from __future__ import annotations

import argparse
import os
import pickle
import shutil
import sys
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
os.environ["FUNNEL_KEY"] = "loaded-tables-check-key-0123456789"

TABLES = ("events", "records", "stage_log", "quarantine", "reconciliation", "outcome_mismatches")
BUILD = Path("/tmp/loaded_tables_cases")  # fixed: paths in messages must compare


def engagements(bigs: list[Path]):
    """(name, function building the engagement YAML and returning its path)."""
    import conftest
    from corpus import CASES
    from samples import ENGAGEMENTS, write_sample_engagement

    def folder(name: str) -> Path:
        f = BUILD / name
        shutil.rmtree(f, ignore_errors=True)
        f.mkdir(parents=True)
        return f

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
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["dump", "compare"])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--big", type=Path, action="append", default=[])
    parser.add_argument("-k", default="", help="only engagements whose name contains this")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    bad = 0
    for name, build in engagements(args.big):
        if args.k not in name:
            continue
        started = time.perf_counter()
        result = load(build())
        seconds = time.perf_counter() - started
        stored = args.dir / f"{name}.pkl"
        if args.action == "dump":
            stored.write_bytes(pickle.dumps(result))
            print(f"dumped {name} ({seconds:.1f} s){' error' if 'error' in result else ''}")
            continue
        found = differences(pickle.loads(stored.read_bytes()), result)
        bad += bool(found)
        print(f"{'DIFF' if found else 'same'} {name} ({seconds:.1f} s)")
        for line in found:
            print("    " + line)
    if args.action == "compare":
        print("ALL SAME" if not bad else f"{bad} ENGAGEMENTS DIFFER")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
