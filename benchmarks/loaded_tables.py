"""Check that a loader change leaves every loaded table as it was: dump the tables the loader
builds for many engagements once with the code before the change, then compare after each change.

    PYTHONPATH=. python benchmarks/loaded_tables.py dump    DIR [--big EXPORT_DIR ...]
    PYTHONPATH=. python benchmarks/loaded_tables.py compare DIR [--big EXPORT_DIR ...]

The engagements: the demo and its snapshot, the five real samples as `tests/samples.py` (and
`tests/conftest.py`) configure them, the lead-list reading of the Pipedrive sample, every case of
the bad-input corpus (`tests/corpus.py`), and each `--big` folder (an export made by
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
    for big in bigs:
        yield f"big_{big.name}", (lambda b=big: b / "engagement.yaml")


def load(yaml_path: Path) -> dict:
    from toolkit import Engagement
    from toolkit.base.exceptions import ToolkitError
    try:
        e = Engagement.from_yaml(yaml_path, use_cache=False)
    except (ToolkitError, ValueError, OSError) as exc:
        return {"error": (type(exc).__name__, str(exc))}
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
