"""Calibrate the diagnosis on generated companies: planted effects found, and silence on null ones.

    python benchmarks/calibrate_diagnosis.py --companies 200 --out reports/calibration

generates ``--companies`` companies with one planted effect each and as many null companies (no
effect) with :func:`toolkit.datasets.generate_planted_company`, runs the diagnosis on each with
library calls (no notebook kernels), and writes to ``--out``. The families include the structure of
real exports (:func:`toolkit.datasets.add_real_structure`), the shapes real CRMs export in (no
amounts, no lost records, one-instant stamps, date-only stamps, a snapshot: written with
:func:`toolkit.datasets.write_planted_export` and loaded from their YAML as a client's export is),
each a null family and, where the shape can still show it, the planted effects in turn; and a
declared change that raised its step while the mix moved to the weakest region
(:func:`toolkit.datasets.generate_mix_shift_change`). It writes:

- ``companies.csv``: one row per company (what was planted, what the diagnosis said);
- ``calibration.md``: the tables of docs/calibration.md (README.md's *Measured rates* repeats the
  headline ones): per planted effect the share found and correctly attributed (at the demo's size,
  and at half and double that size: the power curve), the verdict where one is planted, per export
  shape the planted effects found, per null family the share with any claim (Wilson 95% intervals),
  the durations against the converters' true median, and (``--invariance``) the companies whose
  findings change under a second key or a row shuffle.

The companies are drawn from ``--seed`` and never looked at one by one: the harness measures the
rules, it is not a set to tune them against. Use another seed while developing (the README's
table comes from ``--seed 2``). Companies run in ``--workers`` processes (default 2).
"""

from __future__ import annotations

import os

# One BLAS thread per worker: the model fits are small, and threads fighting over two shared
# cores made each fit a hundred times slower.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

SIZES = {"half": 6_000, "demo": 12_000, "double": 24_000}
# The demo's answer key is the reference size: most companies there, the rest for the power curve.
SIZE_SHARES = {"demo": 0.70, "half": 0.15, "double": 0.15}
# The shapes of real exports (toolkit.datasets.EXPORT_FAMILIES but the tidy history): each is a
# null family, and carries the planted effects that the shape can still show.
SHAPES = ("no amounts", "no lost records", "one instant", "date only", "snapshot")
NULL_FAMILIES = ("plain", "placebo change", "structured", *SHAPES)
SEGMENTS = ["action", "owner", "region", "product"]
# the segments of a company with the structure of real exports (toolkit.datasets.add_real_structure)
STRUCTURED_SEGMENTS = ["action", "owner", "team", "office", "region", "product", "sector"]
# the planted segment effects that also run on a structured company (every second one of each)
STRUCTURED_EFFECTS = ("owner_leak", "source")
# a declared change that raised its step in every region while the mix moved to the weakest one
# (toolkit.datasets.generate_mix_shift_change)
MIX_CHANGE = "mix_change"
# The planted effects a shape can still show: a step's rate and its segments need only who
# reached which phase; a date-only or amount-less history keeps every date, so also the timing
# of a worsening or a declared change; one-instant stamps and a snapshot date every phase a
# record passed at its creation, so the month a step got worse is not in them.
SHAPE_EFFECTS = {
    "no amounts": ("low_step", "worse_step", "source", "owner_leak", "simpson_mix",
                   "seasonal_dip", "process_change"),
    "no lost records": ("low_step", "worse_step", "source", "owner_leak", "simpson_mix",
                        "seasonal_dip", "process_change"),
    "one instant": ("low_step", "source", "owner_leak", "simpson_mix", "seasonal_dip"),
    "date only": ("low_step", "worse_step", "source", "owner_leak", "simpson_mix",
                  "seasonal_dip", "process_change"),
    "snapshot": ("low_step", "source", "owner_leak", "simpson_mix", "seasonal_dip"),
}
# the shapes whose durations are measured against the converters' true median (one instant and
# a snapshot have none; date-only and open-forever losses change what a duration means)
TIMED_SHAPES = (None, "no amounts")


def planted_effects() -> tuple[str, ...]:
    from toolkit.datasets import PLANTED_EFFECTS
    return (*PLANTED_EFFECTS, MIX_CHANGE)


def company_specs(companies: int, seed: int) -> list[dict]:
    """Planted companies (one effect each, effects in turn; every third round of an effect in a
    shape of real exports, shapes in turn) and as many null companies (families in turn)."""
    effects = planted_effects()
    rng = np.random.default_rng(seed)
    sizes = list(SIZE_SHARES)
    specs = []
    for kind in ("planted", "null"):
        for k in range(companies):
            size = sizes[int(rng.choice(len(sizes), p=list(SIZE_SHARES.values())))]
            spec = {"kind": kind, "size": size, "n_records": SIZES[size],
                    "seed": int(rng.integers(0, 2**31 - 1))}
            if kind == "planted":
                spec["effect"] = effects[k % len(effects)]
                spec["n_phases"] = int(rng.integers(3, 6))      # 3-5 phases: a split exists
                round_ = k // len(effects)
                shapes = [s for s in SHAPES if spec["effect"] in SHAPE_EFFECTS[s]]
                if round_ % 3 == 2 and shapes:
                    spec["shape"] = shapes[(round_ // 3) % len(shapes)]
                elif spec["effect"] in STRUCTURED_EFFECTS and round_ % 2:
                    spec["structured"] = True
            else:
                spec["family"] = NULL_FAMILIES[k % len(NULL_FAMILIES)]
                spec["n_phases"] = int(rng.integers(2, 6))      # 2-5 phases
                spec["structured"] = spec["family"] == "structured"
                if spec["family"] in SHAPES:
                    spec["shape"] = spec["family"]
            specs.append(spec)
    return specs


def _engagement(company, changes: list[dict], segments: list[str] = SEGMENTS):
    from toolkit import Engagement
    from toolkit.io.config import ChangeConfig

    e = Engagement.from_tables(company.events, company.records,
                               phases=[{"key": k, "label": k} for k in company.phases],
                               as_of=company.as_of, segments=segments)
    e.config.changes = [ChangeConfig(**c) for c in changes]
    return e


def _seasonal_dip_found(e) -> bool:
    """The volume dips in July-August (volume test significant, those months lowest, index
    below 0.8) while the rate test finds nothing."""
    from toolkit.measure.seasonality import seasonality

    result = seasonality(e)
    volume_p, rate_p = result.tests["p_value"].to_numpy(float)
    by_month = result.monthly.groupby("month")["volume"].mean()
    index = by_month.loc[[7, 8]].mean() / by_month.drop([7, 8]).mean()
    lowest = set(by_month.nsmallest(2).index) == {7, 8}
    return bool(volume_p < 0.05 and lowest and index < 0.8 and not rate_p < 0.05)


def run_company(spec: dict) -> dict:
    """Generate one company, diagnose it, and say what was found."""
    warnings.simplefilter("ignore")
    from toolkit.analysis.diagnosis import low_hanging_fruit
    from toolkit.analysis.simulation import evaluate_declared_changes
    from toolkit.measure.kpis import time_to_convert

    start, cpu = time.perf_counter(), time.process_time()
    company, e = _company(spec)
    fruit = low_hanging_fruit(e, benchmarks=company.benchmarks, seed=0, draws=1000)
    changed = (_changed_findings(e, fruit, company.benchmarks) if spec.get("invariance")
               else np.nan)
    evaluations, _ = evaluate_declared_changes(e, None)
    claims = [ev for ev in evaluations if ev.effect != "none"]
    scan = fruit.scan[fruit.scan["flagged"]]
    flags = {(r.attribute, r.segment, r.from_phase, r.to_phase): r.direction
             for r in scan.itertuples(index=False)}
    truth = company.effects
    planted_flags = _planted_flags(truth)
    row = {**spec, "verdict": fruit.verdict.case,
           "bottlenecks": ";".join(fruit.table.loc[fruit.table["area"] == "bottleneck",
                                                   "finding"].str.split(" converts").str[0]),
           "flags": ";".join(f"{a}={s}@{f}->{t}:{d}" for (a, s, f, t), d in flags.items()),
           "unplanted_flags": sum(1 for k in flags if (k[0], k[1], k[2], k[3]) not in
                                  planted_flags),
           "better_normal": sum(1 for k, d in flags.items() if d == "better"
                                and planted_flags.get(k) != "better"),
           "simpson": ";".join(f"{m.attribute}@{m.from_phase}->{m.to_phase}"
                               for m in fruit.mixes),
           "claimed_change": len(claims) > 0, "changed_findings": changed,
           "segment_flags": len(flags)}
    row.update(_judge(spec, truth, fruit, flags, claims, e))
    if spec["kind"] == "planted" and spec.get("shape") in TIMED_SHAPES \
            and company.converter_median_days:
        ttc = time_to_convert(e)
        errors = []
        for r in ttc.itertuples(index=False):
            true = company.converter_median_days.get((r.from_phase, r.to_phase))
            if true is None:  # the entry step of a structured company: passed at creation
                continue
            errors.append(abs(r.median_days / true - 1))
        row["duration_max_rel_error"] = max(errors) if errors else np.nan
        row["durations_within_10pct"] = bool(errors) and max(errors) <= 0.10
    row["seconds"] = time.perf_counter() - start
    row["cpu_seconds"] = time.process_time() - cpu
    return row


def _company(spec: dict):
    """The company a spec names and its engagement: generated, given the structure of real
    exports, or written as an export of a shape and loaded from it as a client's would be."""
    from toolkit.datasets import add_real_structure, generate_mix_shift_change, generate_planted_company

    if spec.get("effect") == MIX_CHANGE:
        company = generate_mix_shift_change(spec["seed"], n_records=spec["n_records"] // 2)
        return company, _engagement(company, company.changes, ["region"])
    effects = (spec["effect"],) if spec["kind"] == "planted" else ()
    company = generate_planted_company(effects=effects, n_records=spec["n_records"],
                                       n_phases=spec["n_phases"], seed=spec["seed"])
    if spec.get("shape"):
        import tempfile

        from toolkit import Engagement
        from toolkit.datasets import write_planted_export

        with tempfile.TemporaryDirectory() as folder:
            e = Engagement.from_yaml(write_planted_export(company, folder, family=spec["shape"]))
            e.events  # load now, while the export exists  # noqa: B018
        return _as_loaded(company, e), e
    if spec.get("structured"):
        company = add_real_structure(company, seed=spec["seed"])
    changes = list(company.changes)
    if spec.get("family") == "placebo change":
        # declared, but nothing changed: any claimed effect is a false one
        first, second = company.phases[:2]
        changes = [{"date": pd.Timestamp("2025-07-01").date(), "description": "placebo",
                    "step": f"{first} -> {second}"}]
    return company, _engagement(company, changes,
                                STRUCTURED_SEGMENTS if spec.get("structured") else SEGMENTS)


def _as_loaded(company, e):
    """The company's truth in the names the loaded export gives: an owner is pseudonymised on
    load, so the leaky owner is named by the pseudonym of its records."""
    import dataclasses

    leak = company.effects.get("owner_leak")
    if leak is None:
        return company
    ids = company.records.loc[company.records["owner"].astype(str) == leak["segment"],
                              "record_id"].astype(str)
    loaded = e.records.set_index(e.records["record_id"].astype(str))["owner"].astype(str)
    names = set(loaded.reindex(ids).dropna())
    assert len(names) == 1, names  # one owner is one pseudonym
    effects = {**company.effects, "owner_leak": {**leak, "segment": names.pop()}}
    return dataclasses.replace(company, effects=effects)


def _changed_findings(e, fruit, benchmarks) -> str:
    """What of the ranked list and the scan changes under a second key (the owners pseudonymised
    anew) or a row shuffle of the tables ('' when nothing: the answer must not depend on them)."""
    from toolkit.analysis.diagnosis import low_hanging_fruit

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import invariance

    def said(engagement, result) -> dict:
        return invariance.findings(_Step(result), engagement)

    base = said(e, fruit)
    out = []
    for change, other in (("second key", invariance.rekeyed(e, invariance.KEYS[1])),
                          ("row shuffle", invariance.shuffled_tables(e))):
        again = low_hanging_fruit(other, benchmarks=benchmarks, seed=0, draws=1000)
        diff = invariance.differences(base, said(other, again))
        if diff:
            out.append(f"{change}: {'; '.join(diff)}")
    return " | ".join(out)


class _Step:
    """The parts of a step result `invariance.findings` reads, from a LowHangingFruit."""

    def __init__(self, fruit) -> None:
        self.problems: dict = {}
        self.tables = {"segment scan": fruit.scan}
        self.results = {"fruit": fruit}


def _planted_flags(truth: dict) -> dict[tuple, str]:
    """The segment flags a correct diagnosis may raise: (attribute, segment, from, to) -> dir."""
    out = {}
    for name in ("source", "simpson_mix"):
        if name in truth:
            a, b = truth[name]["transition"]
            for segment, direction in truth[name]["segments"].items():
                out[(truth[name]["attribute"], segment, a, b)] = direction
    if MIX_CHANGE in truth:
        # the regions really differ at the changed step (0.60, 0.45, 0.20 before the change)
        a, b = truth[MIX_CHANGE]["transition"]
        out[("region", "Noord", a, b)] = "better"
        out[("region", "Zuid", a, b)] = "worse"
    if "owner_leak" in truth:
        leak = truth["owner_leak"]
        a, b = leak["transition"]
        out[(leak["attribute"], leak["segment"], a, b)] = "worse"
        # a team leak: each of the team's account managers and the team's office are worse too
        # (right flags, when n allows)
        for owner in leak.get("owners", []):
            out[("owner", owner, a, b)] = "worse"
        if "office" in leak:
            out[("office", leak["office"], a, b)] = "worse"
    return out


def _judge(spec: dict, truth: dict, fruit, flags: dict, claims: list, e) -> dict:
    """found: the diagnosis points at the planted effect; attributed: at the right step,
    attribute and segments, in the right direction; verdict_right where a side is planted."""
    if spec["kind"] == "null":
        any_claim = (bool(flags) or fruit.verdict.case in ("shortage", "leak")
                     or bool(fruit.mixes) or bool(claims))
        return {"any_claim": any_claim}
    effect = spec["effect"]
    t = truth[effect]
    out = {"found": False, "attributed": False, "verdict_right": np.nan}
    if effect in ("low_step", "worse_step"):
        a, b = t["transition"]
        bottleneck = fruit.table[(fruit.table["area"] == "bottleneck")
                                 & fruit.table["finding"].str.startswith(f"{a} -> {b} ")]
        others = fruit.table[(fruit.table["area"] == "bottleneck")
                             & ~fruit.table["finding"].str.startswith(f"{a} -> {b} ")]
        expected = "shortage" if t["half"] == "early" else "leak"
        out["found"] = len(bottleneck) > 0
        out["attributed"] = len(bottleneck) > 0 and len(others) == 0
        out["verdict_right"] = fruit.verdict.case == expected
    elif effect in ("source", "simpson_mix", "owner_leak"):
        planted = _planted_flags({effect: t})
        attribute = t["attribute"]
        # found and attributed on the planted attribute's own segments (a team leak's owners
        # may be flagged too, but need not: each has a seventh of the team's records)
        main = {k: d for k, d in planted.items() if k[0] == attribute}
        hits = [k for k in main if flags.get(k) == main[k]]
        a, b = t["transition"]
        watched = {attribute} | ({"owner", "office"} if "owners" in t else set())
        same_attribute = [k for k in flags if k[0] in watched and (k[2], k[3]) == (a, b)]
        out["found"] = len(hits) > 0
        out["attributed"] = (len(hits) == len(main)
                             and all(planted.get(k) == flags[k] for k in same_attribute))
        if effect == "simpson_mix":
            mix = [m for m in fruit.mixes if (m.from_phase, m.to_phase) == (a, b)]
            out["found"] = len(mix) > 0
            out["attributed"] = len(mix) > 0 and all(m.attribute == "region" for m in mix)
    elif effect == "seasonal_dip":
        out["found"] = out["attributed"] = _seasonal_dip_found(e)
    elif effect in ("process_change", MIX_CHANGE):
        a, b = t["transition"]
        raised = [c for c in claims if c.effect == "raised"]
        out["found"] = len(raised) > 0
        out["attributed"] = any((c.from_phase, c.to_phase) == (a, b) for c in raised)
    return out


def _pct(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{100 * x:.0f}%"


def wilson(hits: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score interval of a share (95%): honest near 0% and 100%, where the share of a
    few hundred companies sits."""
    if n == 0:
        return float("nan"), float("nan")
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _rate(hits: pd.Series) -> str:
    """'k of n (share; 95% interval)'."""
    hits = hits.dropna().astype(bool)
    n, k = len(hits), int(hits.sum())
    if n == 0:
        return "—"
    low, high = wilson(k, n)
    return f"{k}/{n} ({100 * k / n:.0f}%; {100 * low:.0f}–{100 * high:.0f}%)"


def tables(frame: pd.DataFrame, seconds: float, workers: int) -> str:
    """The calibration tables in Markdown."""
    frame = frame.copy()
    structured = frame.get("structured", pd.Series(False, index=frame.index)).fillna(False)
    shape = frame.get("shape", pd.Series(np.nan, index=frame.index))
    if "effect" in frame:
        frame["effect"] = frame["effect"].where(~structured.astype(bool),
                                                frame["effect"] + " (structured)")
    planted = frame[frame["kind"] == "planted"]
    null = frame[frame["kind"] == "null"]
    tidy = planted[shape[planted.index].isna()]
    shaped = planted[shape[planted.index].notna()]
    lines = [f"Companies: {len(planted)} planted (one effect each), {len(null)} null; "
             f"{seconds / 60:.1f} minutes on {workers} worker process(es).", ""]
    lines += ["| planted effect | companies (demo size) | found | found and correctly attributed "
              "| verdict right | found at half size | found at double size | found and "
              "attributed, all sizes (95% interval) |",
              "|---|---|---|---|---|---|---|---|"]
    for effect, part in tidy.groupby("effect", sort=False):
        demo = part[part["size"] == "demo"]
        half, double = part[part["size"] == "half"], part[part["size"] == "double"]
        verdict = demo["verdict_right"].dropna()
        lines.append(
            f"| {effect} | {len(demo)} | {_pct(demo['found'].mean())} | "
            f"{_pct(demo['attributed'].mean())} | "
            f"{_pct(verdict.astype(float).mean()) if len(verdict) else '—'} | "
            f"{_pct(half['found'].mean())} (n={len(half)}) | "
            f"{_pct(double['found'].mean())} (n={len(double)}) | "
            f"{_rate(part['attributed'])} |")
    if len(shaped):
        lines += ["", "| planted effect in the shape of a real export | companies | effects | "
                  "found | found and correctly attributed (95% interval) |", "|---|---|---|---|---|"]
        for family, part in shaped.groupby(shape[shaped.index], sort=False):
            lines.append(f"| {family} | {len(part)} | {part['effect'].nunique()} | "
                         f"{_rate(part['found'])} | {_rate(part['attributed'])} |")
    lines += ["", "| null family | companies | any flagged segment | shortage/leak verdict | "
              "Simpson flag | claimed change | any of these | any, 95% interval |",
              "|---|---|---|---|---|---|---|---|"]

    def share(hits: pd.Series) -> str:
        return f"{int(hits.sum())} ({100 * hits.mean():.1f}%)"

    for family, part in list(null.groupby("family", sort=False)) + [("all", null)]:
        any_claim = part["any_claim"].astype(bool)
        low, high = wilson(int(any_claim.sum()), len(part))
        lines.append(
            f"| {family} | {len(part)} | {share(part['flags'].fillna('') != '')} | "
            f"{share(part['verdict'].isin(['shortage', 'leak']))} | "
            f"{share(part['simpson'].fillna('') != '')} | "
            f"{share(part['claimed_change'].astype(bool))} | "
            f"{share(any_claim)} | {100 * low:.1f}–{100 * high:.1f}% |")
    better = planted["better_normal"].fillna(0) > 0
    unplanted = planted["unplanted_flags"].fillna(0) > 0
    durations = planted["durations_within_10pct"].dropna().astype(float)
    lines += ["",
              f"- Planted companies with a \"better\" flag for a normal segment: "
              f"{share(better)}; with any segment flag that was not planted: "
              f"{share(unplanted)}.",
              f"- Durations: the converters' median within 10% of the true one at every step in "
              f"{_pct(durations.mean())} of the planted companies (largest error "
              f"{_pct(planted['duration_max_rel_error'].max())}, median of the per-company "
              f"largest errors {_pct(planted['duration_max_rel_error'].median())}).",
              *_invariance_line(frame),
              f"- Time per company: median {frame['seconds'].median():.1f} s wall clock, "
              f"{frame['cpu_seconds'].median():.2f} s CPU; {frame['cpu_seconds'].sum() / 60:.1f} "
              f"CPU-minutes in all (the wall clock depends on what else the machine runs)."]
    return "\n".join(lines) + "\n"


def _invariance_line(frame: pd.DataFrame) -> list[str]:
    if "changed_findings" not in frame or frame["changed_findings"].isna().all():
        return []
    checked = frame[frame["changed_findings"].notna()]
    changed = checked["changed_findings"].astype(str).str.len() > 0
    return [f"- Companies whose findings change under a second key or a row shuffle: "
            f"{int(changed.sum())} of {len(checked)}."]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--companies", type=int, default=200,
                        help="planted companies; as many null ones are added (default 200)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the results")
    parser.add_argument("--seed", type=int, default=2, help="seed of the company draw (2 for "
                        "the README's table; use another while developing)")
    parser.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    parser.add_argument("--invariance", action="store_true", help="also run every company under "
                        "a second key and a row shuffle and count the findings that change")
    parser.add_argument("--only", choices=["segments"], help="`segments`: only the segment "
                        "families (source, owner leak, plain and structured null companies)")
    args = parser.parse_args(argv)
    if args.companies < 1 or args.workers < 1:
        parser.error("--companies and --workers must be at least 1")
    args.out.mkdir(parents=True, exist_ok=True)
    specs = company_specs(args.companies, args.seed)
    if args.only == "segments":
        specs = [s for s in specs if s.get("effect") in STRUCTURED_EFFECTS
                 or s.get("family") in ("plain", "structured")]
    if args.invariance:
        specs = [{**s, "invariance": True} for s in specs]
    start = time.perf_counter()
    if args.workers == 1:
        rows = [run_company(s) for s in specs]
    else:
        with ProcessPoolExecutor(max_workers=args.workers) as pool:
            rows = list(pool.map(run_company, specs, chunksize=4))
    seconds = time.perf_counter() - start
    frame = pd.DataFrame(rows)
    frame.to_csv(args.out / "companies.csv", index=False)
    text = tables(frame, seconds, args.workers)
    (args.out / "calibration.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
