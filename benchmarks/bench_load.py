"""Benchmark: the cold load of a big CRM export (`funnel validate`'s first step), against plain
pandas and DuckDB reading the same file.

    python benchmarks/bench_load.py --records 1000000 --out benchmarks/out_load [--shape history]

1. Generates the demo company at N records (`toolkit.datasets`) in a child process, as one CSV in
   the demo's Dutch locale (cp1252, `;`, decimal comma, dd-mm-yyyy, CRLF) of the `--shape`:
   - `history` (the default): the demo's stage-history export, HH:MM times, its planted dirt;
   - `snapshot`: one row per deal with its current stage, the stage it was lost at, creation and
     close dates (the demo's `crm_deals.xlsx` as a CSV, with its Test deals);
   - `wide`: one row per deal with a `Datum <stage>` column per CRM stage holding the first time
     the deal entered it (like HubSpot's "Date entered" columns), built from the same stage
     changes as the history;
   the one-row-per-deal shapes with a little dirt of their own (repeated deals, rows without an
   id, impossible dates). The matching engagement YAML is written beside it. An export already in
   DIR for the same N, seed and shape is reused.
2. In one run, each in its own child process (so each peak memory is its own):
   - the toolkit: `Engagement.from_yaml(..., use_cache=False)` and its loaded tables, i.e. read,
     validate, quarantine, pseudonymise and build the events and records tables;
   - plain pandas as an analyst writes it by hand: `read_csv` of every column as text, the date
     columns with their format, the amounts with the decimal comma;
   - DuckDB: `read_csv` of the same columns with the same parsing (`strptime`, decimal comma).
3. Writes `DIR/result.json`: shape, records, rows, seconds_load, peak_rss_mb, seconds_pandas,
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
# The demo export's layout (see data/demo/README.md and data/demo/engagement.yaml).
DELIMITER, ENCODING = ";", "cp1252"
AMOUNT, CREATED = "Bedrag", "Aangemaakt op"
MINUTES, DAYS = "%d-%m-%Y %H:%M", "%d-%m-%Y"
# The demo's CRM stages in the process's order: the wide export's date columns.
STAGES = ("Suspect", "Lead", "Lead gekwalificeerd", "Potentieel", "Offerte uitgebracht",
          "Onderhandeling", "Gewonnen", "Verloren")
# Per shape: the file's name and its date columns with their formats (what pandas parses too).
SHAPES = {
    "history": ("crm_fasehistorie.csv", {"Datum wijziging": MINUTES, CREATED: DAYS}),
    "snapshot": ("crm_deals.csv", {CREATED: DAYS, "Sluitdatum": DAYS}),
    "wide": ("crm_deals_wide.csv", {CREATED: DAYS, **{f"Datum {s}": MINUTES for s in STAGES}}),
}
ATTRIBUTES = {"action": "Actie", "owner": "Eigenaar", "region": "Regio", "product": "Product",
              "contact": "Contactpersoon"}


def generate(records: int, out: Path, seed: int, shape: str = "history") -> None:
    """Write the demo company at `records` records as one CSV of `shape`, and its engagement."""
    from toolkit.datasets.exports import _build_exports, generate_company
    company = generate_company(n_records=records, seed=seed)
    csv_bytes, snapshot, _manifest = _build_exports(company, seed)
    out.mkdir(parents=True, exist_ok=True)
    name = SHAPES[shape][0]
    if shape == "history":
        (out / name).write_bytes(csv_bytes)
        shutil.copy(REPO / "data" / "demo" / "engagement.yaml", out / "engagement.yaml")
    else:
        del csv_bytes
        table = (_snapshot_table(snapshot) if shape == "snapshot"
                 else _wide_table(company, snapshot, seed))
        table = _with_dirt(table, seed)
        table.to_csv(out / name, sep=DELIMITER, index=False, lineterminator="\r\n",
                     encoding=ENCODING)
        _write_engagement(out, shape, name)
    (out / "export.json").write_text(json.dumps({"records": records, "seed": seed,
                                                 "shape": shape}))


def _amounts(values):
    """The demo's amounts as its exports write them: decimal comma, blank when missing."""
    import pandas as pd

    from toolkit.datasets.exports import _format_amount
    return _format_amount(pd.to_numeric(pd.Series(values), errors="coerce")).to_numpy()


def _days(cells):
    """Date cells (dates, Excel serial numbers, None) as dd-mm-yyyy text, blank when missing."""
    import pandas as pd
    cells = pd.Series(cells, dtype=object)
    serial = cells.map(lambda v: isinstance(v, int))
    days = pd.to_datetime(cells.where(~serial), errors="coerce")
    days = days.where(~serial, pd.Timestamp("1899-12-30") + pd.to_timedelta(
        pd.to_numeric(cells.where(serial), errors="coerce"), unit="D"))
    return days.dt.strftime(DAYS).fillna("").to_numpy()


def _snapshot_table(snapshot):
    """The demo's snapshot workbook as a Dutch CSV (its Excel serial dates written as dates)."""
    return snapshot.assign(**{CREATED: _days(snapshot[CREATED]),
                              "Sluitdatum": _days(snapshot["Sluitdatum"]),
                              AMOUNT: _amounts(snapshot[AMOUNT])})


def _wide_table(company, snapshot, seed: int):
    """One row per deal (the snapshot's deals and columns) with, per CRM stage, the first time the
    deal entered it in the demo's stage history (`_history_rows` with the generator state
    `_build_exports` gives it, so the same stage changes)."""
    import numpy as np
    import pandas as pd

    from toolkit.datasets.exports import _history_rows
    rows, _ = _history_rows(company, np.random.default_rng([seed, 1]))
    n = len(company.records)
    stage = pd.Index(STAGES).get_indexer(rows["stage"].to_numpy(str))
    first = np.full((n, len(STAGES)), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, (rows["rec"].to_numpy(), stage), rows["t"].to_numpy(np.int64))
    table = _snapshot_table(snapshot).drop(columns=["Huidige fase", "Fase bij verlies",
                                                    "Sluitdatum"])
    for k, name in enumerate(STAGES):
        at = pd.Series(first[:, k]).where(first[:, k] != np.iinfo(np.int64).max)
        text = pd.to_datetime(at).dt.strftime(MINUTES).fillna("").to_numpy()
        table[f"Datum {name}"] = np.concatenate([text, [""] * (len(table) - n)])
    return table.iloc[:n]  # the snapshot's Test deals have no stage date


def _with_dirt(table, seed: int):
    """A little dirt of a one-row-per-deal export: 30 deals exported twice (the copy at a random
    place), 3 rows without an id and 3 impossible creation dates."""
    import numpy as np
    import pandas as pd
    rng = np.random.default_rng([seed, 7])
    table = table.reset_index(drop=True)
    impossible = rng.choice(len(table), size=min(3, len(table)), replace=False)
    table.loc[impossible, CREATED] = ["31-02-2025", "30-02-2026", "31-04-2025"][:len(impossible)]
    repeated = table.iloc[rng.choice(len(table), size=min(30, len(table)), replace=False)]
    no_id = table.iloc[rng.choice(len(table), size=min(3, len(table)), replace=False)].assign(
        **{"Deal ID": ""})
    table = table.assign(_key=np.arange(len(table), dtype=float))
    extra = [part.assign(_key=rng.uniform(0, len(table), size=len(part)))
             for part in (repeated, no_id)]
    return (pd.concat([table, *extra], ignore_index=True).sort_values("_key", kind="stable")
            .drop(columns="_key"))


def _write_engagement(out: Path, shape: str, name: str) -> None:
    """The demo engagement with one source: this CSV in this shape."""
    import yaml
    doc = yaml.safe_load((REPO / "data" / "demo" / "engagement.yaml").read_text())
    source = {"name": "deals", "path": name, "shape": shape, "encoding": ENCODING,
              "delimiter": DELIMITER, "decimal": ",", "date_format": "dmy"}
    if shape == "snapshot":
        source["columns"] = {"record_id": "Deal ID", "current_stage": "Huidige fase",
                             "lost_at_stage": "Fase bij verlies", "created_at": CREATED,
                             "closed_at": "Sluitdatum", "value": AMOUNT}
    else:
        source["columns"] = {"record_id": "Deal ID", "created_at": CREATED, "value": AMOUNT}
        source["stage_columns"] = {f"Datum {s}": s for s in STAGES}
    source.update(attributes=ATTRIBUTES, personal=["contact"])
    doc["sources"] = [source]
    (out / "engagement.yaml").write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))


def time_toolkit(out: Path, shape: str) -> dict:
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


def time_pandas(out: Path, shape: str) -> dict:
    import pandas as pd
    name, dates = SHAPES[shape]
    t0 = time.perf_counter()
    frame = pd.read_csv(out / name, sep=DELIMITER, encoding=ENCODING, dtype=str,
                        keep_default_na=False, na_values=[""])
    parsed = {col: pd.to_datetime(frame[col], format=fmt, errors="coerce")
              for col, fmt in dates.items()}
    amount = pd.to_numeric(frame[AMOUNT].str.replace(".", "", regex=False)
                           .str.replace(",", ".", regex=False), errors="coerce")
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "rows": int(len(frame)),
            "parsed": int(sum(p.notna().sum() for p in parsed.values()) + amount.notna().sum())}


def time_duckdb(out: Path, shape: str) -> dict:
    import duckdb
    name, dates = SHAPES[shape]
    con = duckdb.connect()
    con.execute("SET threads TO 2")
    parse = ", ".join([f"""try_strptime("{col}", '{fmt}') AS "{col}" """
                       for col, fmt in dates.items()]
                      + [f"""TRY_CAST(replace(replace("{AMOUNT}", '.', ''), ',', '.') AS DOUBLE)
                          AS "{AMOUNT}" """])
    t0 = time.perf_counter()
    # DuckDB reads latin-1, not cp1252; the demo's text columns are the same in both except the
    # rare byte 0x80-0x9f, which it would show differently. Timing is unaffected.
    table = con.execute(f"""
        SELECT * REPLACE ({parse})
        FROM read_csv('{out / name}', delim='{DELIMITER}', header=true, all_varchar=true,
                      encoding='latin-1')""").to_arrow_table()
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "rows": int(table.num_rows)}


MEASURES = {"toolkit": time_toolkit, "pandas": time_pandas, "duckdb": time_duckdb}


def measure_in_child(which: str, out: Path, shape: str) -> dict:
    """Run one measurement in a fresh interpreter; its peak memory is its own."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}
    done = subprocess.run([sys.executable, __file__, "--measure", which, "--out", str(out),
                           "--shape", shape],
                          check=True, capture_output=True, text=True, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out_load"))
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--shape", choices=sorted(SHAPES), default="history",
                        help="the export's shape: history (default), snapshot or wide")
    parser.add_argument("--generate-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--measure", choices=sorted(MEASURES), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.records < 1:
        parser.error("--records must be a positive number of records")
    if args.measure:
        result = MEASURES[args.measure](args.out, args.shape)
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return 0
    if args.generate_only:
        generate(args.records, args.out, args.seed, args.shape)
        return 0

    marker = args.out / "export.json"
    wanted = {"records": args.records, "seed": args.seed, "shape": args.shape}
    csv_name = SHAPES[args.shape][0]
    started = time.perf_counter()
    if not (marker.exists() and json.loads(marker.read_text()) == wanted
            and (args.out / csv_name).exists()):
        subprocess.run([sys.executable, __file__, "--records", str(args.records), "--out",
                        str(args.out), "--seed", str(args.seed), "--shape", args.shape,
                        "--generate-only"], check=True)
    seconds_generate = time.perf_counter() - started

    load_average = os.getloadavg()[0]
    ours = measure_in_child("toolkit", args.out, args.shape)
    pandas = measure_in_child("pandas", args.out, args.shape)
    duck = measure_in_child("duckdb", args.out, args.shape)
    result = {
        "shape": args.shape, "records": ours["records"], "rows": ours["rows"], "events": ours["events"],
        "rows_quarantined": ours["rows_quarantined"],
        "file_mb": round((args.out / csv_name).stat().st_size / 2**20, 1),
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
