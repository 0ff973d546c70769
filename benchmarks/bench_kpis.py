"""Benchmark: the baseline KPI set on a synthetic CRM history of N records, against DuckDB.

    python benchmarks/bench_kpis.py --records 1000000 --out benchmarks/out

1. Generates N records with the demo company's logic (`toolkit.datasets.generate_company`) in a
   child process and writes `DIR/events.parquet` and `DIR/records.parquet` (the canonical tables).
2. Times loading an engagement from those files, then the baseline KPI set: every step's cohort
   conversion by cohort month x one segment (90-day window, Wilson intervals) plus the Kaplan-Meier
   median time of every transition.
3. Times an equivalent DuckDB SQL query of the cohort conversion table on the same parquet files and
   checks that both give the same counts.
4. Writes `DIR/result.json`: records, events, seconds_load, seconds_kpis, peak_rss_mb,
   seconds_duckdb, ratio_vs_duckdb.

A benchmark to run and report, not a timed test. Generation memory is kept out of peak_rss_mb by
generating in a child process.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

WINDOW = 90
SEGMENT = "action"


def generate(records: int, out: Path, seed: int) -> None:
    from toolkit.datasets import generate_company
    company = generate_company(n_records=records, seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    company.events.to_parquet(out / "events.parquet", index=False)
    company.records.to_parquet(out / "records.parquet", index=False)
    (out / "as_of.txt").write_text(str(company.as_of))


def load(out: Path):
    from toolkit import Engagement
    from toolkit.datasets import PHASE_LABELS, PHASES
    from toolkit.measure.funnel import cohort_conversion  # noqa: F401  (imports count as loading)
    from toolkit.measure.kpis import compute_kpis  # noqa: F401
    events = pd.read_parquet(out / "events.parquet")
    records = pd.read_parquet(out / "records.parquet")
    phases = [{"key": k, "label": PHASE_LABELS[k]} for k in PHASES]
    as_of = pd.Timestamp((out / "as_of.txt").read_text())
    return Engagement.from_tables(events, records, phases=phases, as_of=as_of,
                                  cohort_window_days=WINDOW, segments=[SEGMENT])


def baseline_kpis(engagement) -> tuple[pd.DataFrame, pd.DataFrame]:
    from toolkit.measure.funnel import cohort_conversion, reached_at
    from toolkit.measure.kpis import KPI, compute_kpis
    reached = reached_at(engagement)
    conversions = cohort_conversion(engagement, period="month", by=SEGMENT, window_days=WINDOW,
                                    method="wilson", reached=reached)
    durations = compute_kpis(engagement, kpis=[
        KPI(name=f"duration_{a}_{b}", kind="duration", from_phase=a, to_phase=b)
        for a, b in engagement.phase_model.transitions()])
    return conversions, durations


def duckdb_conversions(out: Path, phases: list[str], as_of: pd.Timestamp) -> pd.DataFrame:
    import duckdb
    idx = " ".join(f"WHEN '{p}' THEN {i}" for i, p in enumerate(phases))
    reached_cols = ",\n".join(
        f"min(t) FILTER (WHERE k >= {i}) AS r{i}" for i in range(len(phases)))
    unions = "\nUNION ALL\n".join(
        f"SELECT '{phases[i]}' AS from_phase, '{phases[i + 1]}' AS to_phase, {SEGMENT}, "
        f"strftime(r{i}, '%Y-%m') AS period, "
        f"r{i} <= TIMESTAMP '{as_of}' - INTERVAL {WINDOW} DAY AS mature, "
        f"coalesce(r{i + 1} - r{i} <= INTERVAL {WINDOW} DAY, false) AS converted "
        f"FROM reached JOIN recs USING (record_id) WHERE r{i} IS NOT NULL"
        for i in range(len(phases) - 1))
    sql = f"""
    WITH ev AS (
        SELECT record_id, CASE CAST(phase AS VARCHAR) {idx} END AS k, entered_at AS t
        FROM read_parquet('{out / 'events.parquet'}')
    ), reached AS (
        SELECT record_id, {reached_cols} FROM ev GROUP BY record_id
    ), recs AS (
        SELECT record_id, coalesce(CAST({SEGMENT} AS VARCHAR), '(missing)') AS {SEGMENT}
        FROM read_parquet('{out / 'records.parquet'}')
    ), spells AS ({unions})
    SELECT from_phase, to_phase, {SEGMENT}, period,
           count(*) FILTER (WHERE mature) AS n,
           count(*) FILTER (WHERE mature AND converted) AS successes,
           count(*) FILTER (WHERE NOT mature) AS immature_n
    FROM spells GROUP BY ALL
    """
    con = duckdb.connect()
    con.execute("SET threads TO 2")
    return con.execute(sql).df()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out"))
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--generate-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.records < 1:
        parser.error("--records must be a positive number of records")
    if args.generate_only:
        generate(args.records, args.out, args.seed)
        return 0

    started = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--records", str(args.records), "--out",
                    str(args.out), "--seed", str(args.seed), "--generate-only"], check=True)
    seconds_generate = time.perf_counter() - started

    t0 = time.perf_counter()
    engagement = load(args.out)
    seconds_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    conversions, durations = baseline_kpis(engagement)
    seconds_kpis = time.perf_counter() - t0
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    t0 = time.perf_counter()
    duck = duckdb_conversions(args.out, engagement.phase_model.keys, engagement.as_of)
    seconds_duckdb = time.perf_counter() - t0

    keys = ["from_phase", "to_phase", SEGMENT, "period"]
    ours = conversions[keys + ["n", "successes", "immature_n"]].astype(
        {SEGMENT: str}).sort_values(keys).reset_index(drop=True)
    theirs = duck[keys + ["n", "successes", "immature_n"]].astype(
        {"n": "int64", "successes": "int64", "immature_n": "int64"}).sort_values(
        keys).reset_index(drop=True)
    same = ours.astype(str).equals(theirs.astype(str))
    result = {
        "records": int(len(engagement.records)), "events": int(len(engagement.events)),
        "seconds_generate": round(seconds_generate, 3), "seconds_load": round(seconds_load, 3),
        "seconds_kpis": round(seconds_kpis, 3), "peak_rss_mb": round(peak_rss_mb, 1),
        "seconds_duckdb": round(seconds_duckdb, 3),
        "ratio_vs_duckdb": round(seconds_kpis / seconds_duckdb, 2),
        "same_counts_as_duckdb": bool(same), "conversion_rows": int(len(conversions)),
        "duration_medians_days": dict(zip(durations["kpi"], durations["value"].round(1),
                                          strict=True)),
    }
    (args.out / "result.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    if not same:
        print("COUNTS DIFFER between toolkit and DuckDB", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
