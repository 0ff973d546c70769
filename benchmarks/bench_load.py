"""Benchmark: the cold load of a big CRM export (`funnel validate`'s first step), against plain
pandas and DuckDB reading the same file.

    python benchmarks/bench_load.py --records 1000000 --out benchmarks/out_load

1. Generates the demo company's stage-history export at N records (`toolkit.datasets`: cp1252, `;`,
   decimal comma, dd-mm-yyyy HH:MM, CRLF, with its planted dirt) in a child process, plus the demo
   engagement YAML beside it. An export already in DIR for the same N and seed is reused.
2. In one run, each in its own child process (so each peak memory is its own):
   - the toolkit: `Engagement.from_yaml(..., use_cache=False)` and its loaded tables, i.e. read,
     validate, quarantine, pseudonymise and build the events and records tables;
   - plain pandas as an analyst writes it by hand: `read_csv` of every column as text, the two date
     columns with their format, the amounts with the decimal comma;
   - DuckDB: `read_csv` of the same columns with the same parsing (`strptime`, decimal comma).
3. Writes `DIR/result.json`: records, rows, seconds_load, peak_rss_mb, seconds_pandas,
   peak_rss_mb_pandas, seconds_duckdb, ratio_vs_pandas, ratio_vs_duckdb, and the machine's load
   average at the start (the machine may be shared: compare the ratios of one run, not seconds of
   runs on different days).

Seconds exclude starting Python and importing libraries. A benchmark to run and report, not a timed
test.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CSV_NAME = "crm_fasehistorie.csv"
# The demo export's layout (see data/demo/README.md and data/demo/engagement.yaml).
DELIMITER, ENCODING = ";", "cp1252"
CHANGED, CREATED, AMOUNT = "Datum wijziging", "Aangemaakt op", "Bedrag"
CHANGED_FORMAT, CREATED_FORMAT = "%d-%m-%Y %H:%M", "%d-%m-%Y"


def generate(records: int, out: Path, seed: int) -> None:
    """Write the demo's history CSV at `records` records (the snapshot workbook is not needed)."""
    from toolkit.datasets import _build_exports, generate_company
    company = generate_company(n_records=records, seed=seed)
    csv_bytes, _snapshot, _manifest = _build_exports(company, seed)
    out.mkdir(parents=True, exist_ok=True)
    (out / CSV_NAME).write_bytes(csv_bytes)
    shutil.copy(REPO / "data" / "demo" / "engagement.yaml", out / "engagement.yaml")
    (out / "export.json").write_text(json.dumps({"records": records, "seed": seed}))


def time_toolkit(out: Path) -> dict:
    from toolkit import Engagement
    os.environ.setdefault("FUNNEL_KEY", "benchmark-key-not-a-secret")
    t0 = time.perf_counter()
    engagement = Engagement.from_yaml(out / "engagement.yaml", use_cache=False)
    events, records = engagement.events, engagement.records
    seconds = time.perf_counter() - t0
    recon = engagement.reconciliation
    return {"seconds": seconds, "records": int(len(records)), "events": int(len(events)),
            "rows": int(recon["rows_in"].sum()),
            "rows_quarantined": int(recon["rows_quarantined"].sum())}


def time_pandas(out: Path) -> dict:
    import pandas as pd
    t0 = time.perf_counter()
    frame = pd.read_csv(out / CSV_NAME, sep=DELIMITER, encoding=ENCODING, dtype=str,
                        keep_default_na=False, na_values=[""])
    changed = pd.to_datetime(frame[CHANGED], format=CHANGED_FORMAT, errors="coerce")
    created = pd.to_datetime(frame[CREATED], format=CREATED_FORMAT, errors="coerce")
    amount = pd.to_numeric(frame[AMOUNT].str.replace(".", "", regex=False)
                           .str.replace(",", ".", regex=False), errors="coerce")
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "rows": int(len(frame)),
            "parsed": int(changed.notna().sum() + created.notna().sum() + amount.notna().sum())}


def time_duckdb(out: Path) -> dict:
    import duckdb
    con = duckdb.connect()
    con.execute("SET threads TO 2")
    t0 = time.perf_counter()
    # DuckDB reads latin-1, not cp1252; the demo's text columns are the same in both except the
    # rare byte 0x80-0x9f, which it would show differently. Timing is unaffected.
    table = con.execute(f"""
        SELECT * EXCLUDE ("{CHANGED}", "{CREATED}", "{AMOUNT}"),
               try_strptime("{CHANGED}", '{CHANGED_FORMAT}') AS changed,
               try_strptime("{CREATED}", '{CREATED_FORMAT}') AS created,
               TRY_CAST(replace(replace("{AMOUNT}", '.', ''), ',', '.') AS DOUBLE) AS amount
        FROM read_csv('{out / CSV_NAME}', delim='{DELIMITER}', header=true, all_varchar=true,
                      encoding='latin-1')""").to_arrow_table()
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "rows": int(table.num_rows)}


MEASURES = {"toolkit": time_toolkit, "pandas": time_pandas, "duckdb": time_duckdb}


def measure_in_child(which: str, out: Path) -> dict:
    """Run one measurement in a fresh interpreter; its peak memory is its own."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}
    done = subprocess.run([sys.executable, __file__, "--measure", which, "--out", str(out)],
                          check=True, capture_output=True, text=True, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out_load"))
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--generate-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--measure", choices=sorted(MEASURES), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.records < 1:
        parser.error("--records must be a positive number of records")
    if args.measure:
        result = MEASURES[args.measure](args.out)
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return 0
    if args.generate_only:
        generate(args.records, args.out, args.seed)
        return 0

    marker = args.out / "export.json"
    wanted = {"records": args.records, "seed": args.seed}
    started = time.perf_counter()
    if not (marker.exists() and json.loads(marker.read_text()) == wanted
            and (args.out / CSV_NAME).exists()):
        subprocess.run([sys.executable, __file__, "--records", str(args.records), "--out",
                        str(args.out), "--seed", str(args.seed), "--generate-only"], check=True)
    seconds_generate = time.perf_counter() - started

    load_average = os.getloadavg()[0]
    ours = measure_in_child("toolkit", args.out)
    pandas = measure_in_child("pandas", args.out)
    duck = measure_in_child("duckdb", args.out)
    result = {
        "records": ours["records"], "rows": ours["rows"], "events": ours["events"],
        "rows_quarantined": ours["rows_quarantined"],
        "file_mb": round((args.out / CSV_NAME).stat().st_size / 2**20, 1),
        "seconds_generate": round(seconds_generate, 1),
        "seconds_load": round(ours["seconds"], 2), "peak_rss_mb": round(ours["peak_rss_mb"]),
        "seconds_pandas": round(pandas["seconds"], 2),
        "peak_rss_mb_pandas": round(pandas["peak_rss_mb"]),
        "seconds_duckdb": round(duck["seconds"], 2),
        "peak_rss_mb_duckdb": round(duck["peak_rss_mb"]),
        "ratio_vs_pandas": round(ours["seconds"] / pandas["seconds"], 2),
        "ratio_vs_duckdb": round(ours["seconds"] / duck["seconds"], 2),
        "load_average_at_start": round(load_average, 2), "cpus": os.cpu_count(),
    }
    if not ours["rows"] == pandas["rows"] == duck["rows"]:
        print(f"ROW COUNTS DIFFER: toolkit {ours['rows']}, pandas {pandas['rows']}, "
              f"duckdb {duck['rows']}", file=sys.stderr)
        return 1
    (args.out / "result.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
