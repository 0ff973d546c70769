"""Calibrate the loop from one report to the next on generated companies with monthly exports.

    python benchmarks/calibrate_loop.py --companies 100 --out reports/calibration-loop

Each **action company** has 18 months of history before the start date and monthly exports for
12 months after it (every export the same company cut at its as-of date, as a CRM exports it).
Its records enter phase ``a`` of three (``a``, ``b``, ``c``) in two teams; step ``a -> b``
converts at a base rate drawn from 25-45%. On the start date two actions of the plan start: a
**working** one for team ``x`` (the step rises by 8 to 10 points for records entering from then
on) and a **placebo** for team ``y`` (nothing changes). The plan's prediction is the one
``toolkit.analysis.action_plan`` makes: the records after the start an 80%-power two-sided 5%
test needs at the expected effect (the planted one; the placebo's the same size), at the team's
inflow per month of the year before, plus the 60-day window. Counted, with Wilson 95% intervals:

- working actions judged ``worked`` by the predicted judgement date: the verdict of
  :func:`toolkit.analysis.since.evaluate_actions` in the first monthly export on or after that
  date (target >= 90%);
- the predicted date within one month of when the evidence actually arrives: the first export
  whose mature records after the start reach the number needed (target >= 80%);
- placebo actions judged ``worked`` at their own judgement date (target <= 5%).

Each **restated company** has two consecutive exports between which a few (3-20) records closed
before the first as-of date get an earlier stage re-dated or their outcome edited; counted:
companies whose every restated record is reported as restated, and nothing else is (target >=
95%), by :func:`toolkit.analysis.since.record_changes` on the two run states' record chains.
"""

from __future__ import annotations

import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from toolkit.analysis.run_state import record_chains, record_codes  # noqa: E402
from toolkit.analysis.since import evaluate_actions, record_changes  # noqa: E402
from toolkit.io.engagement import Engagement  # noqa: E402
from toolkit.stats import power_two_rates  # noqa: E402

PHASES = [{"key": k, "label": k.upper()} for k in "abc"]
START = pd.Timestamp("2025-07-01")
HISTORY_MONTHS, FOLLOW_MONTHS, WINDOW = 18, 12, 60
_DAYS_PER_MONTH = 365.25 / 12


def generate(seed: int, *, lift: float | None = None) -> dict:
    """One company's full history (cut per export by :func:`export`): records, their team, the
    day they enter ``a``, when they reach ``b`` and ``c`` or are lost."""
    rng = np.random.default_rng(seed)
    first = START - pd.DateOffset(months=HISTORY_MONTHS)
    last = START + pd.DateOffset(months=FOLLOW_MONTHS)
    inflow = rng.uniform(100, 200)  # per team and month
    days = (last - first).days
    n = rng.poisson(2 * inflow * days / _DAYS_PER_MONTH)
    created = first + pd.to_timedelta(np.sort(rng.uniform(0, days, n)), unit="D")
    team = np.where(rng.random(n) < 0.5, "x", "y")
    base = rng.uniform(0.25, 0.45)
    lift = rng.uniform(0.08, 0.10) if lift is None else lift
    after = np.asarray(created >= START)
    p = base + lift * (after & (team == "x"))
    to_b = rng.random(n) < p
    to_c = to_b & (rng.random(n) < 0.5)
    gamma = lambda median: rng.gamma(1.5, median / 1.1674, n)  # noqa: E731 (median of shape 1.5)
    at_b = created + pd.to_timedelta(np.where(to_b, gamma(12), np.nan), unit="D")
    at_c = at_b + pd.to_timedelta(np.where(to_c, gamma(10), np.nan), unit="D")
    lost_a = created + pd.to_timedelta(np.where(~to_b, gamma(20), np.nan), unit="D")
    lost_b = at_b + pd.to_timedelta(np.where(to_b & ~to_c, gamma(15), np.nan), unit="D")
    return {"seed": seed, "ids": np.asarray([f"R{i:06d}" for i in range(n)]), "created": created,
            "team": team, "at_b": at_b, "at_c": at_c, "lost_a": lost_a, "lost_b": lost_b,
            "base": base, "lift": lift, "inflow": inflow}


def export(company: dict, as_of: pd.Timestamp) -> Engagement:
    """The company as an export made at `as_of` sees it."""
    seen = np.asarray(company["created"] < as_of)
    ids, created = company["ids"][seen], company["created"][seen]
    b = company["at_b"][seen]
    c = company["at_c"][seen]
    b_in, c_in = np.asarray(b < as_of), np.asarray(c < as_of)
    events = pd.concat([
        pd.DataFrame({"record_id": ids, "phase": "a", "entered_at": created}),
        pd.DataFrame({"record_id": ids[b_in], "phase": "b", "entered_at": b[b_in]}),
        pd.DataFrame({"record_id": ids[c_in], "phase": "c", "entered_at": c[c_in]})],
        ignore_index=True)
    events["source_stage"] = events["phase"]
    events["source_row"] = np.arange(2, len(events) + 2)
    lost_a, lost_b = company["lost_a"][seen], company["lost_b"][seen]
    la, lb = np.asarray(lost_a < as_of), np.asarray(lost_b < as_of)
    outcome = np.where(c_in, "won", np.where(la | lb, "lost", "open"))
    closed = pd.Series(pd.NaT, index=range(len(ids)), dtype="datetime64[ns]")
    closed[c_in] = c[c_in]
    closed[la] = lost_a[la]
    closed[lb] = lost_b[lb]
    records = pd.DataFrame({"record_id": ids, "created_at": created, "outcome": outcome,
                            "closed_at": closed.to_numpy(),
                            "lost_at_phase": np.where(la, "a", np.where(lb, "b", None)),
                            "value": 1000.0, "team": company["team"][seen]})
    return Engagement.from_tables(events, records, phases=PHASES, as_of=as_of,
                                  cohort_window_days=WINDOW, segments=["team"])


def _plan(company: dict) -> list[dict]:
    """The two actions as the plan predicts them (see the module docstring)."""
    rate, lift = company["base"], company["lift"]
    needed = math.ceil(power_two_rates(rate, rate + lift, power=0.8, alpha=0.05))
    return [{"action_id": f"{name}-team-{team}", "what_code": "coach", "status": "started",
             "start": START.date(), "from_phase": "a", "to_phase": "b", "attribute": "team",
             "segment": team, "kpi": "conversion_a_b", "records_needed": needed,
             "inflow_per_month": company["inflow"], "window_days": WINDOW}
            for name, team in (("working", "x"), ("placebo", "y"))]


def _exports() -> list[pd.Timestamp]:
    return [START + pd.DateOffset(months=k) for k in range(1, FOLLOW_MONTHS + 1)]


def _n_after(company: dict, team: str, as_of: pd.Timestamp) -> int:
    created = company["created"]
    return int(((created >= START) & (created <= as_of - pd.Timedelta(days=WINDOW))
                & (company["team"] == team)).sum())


def run_action_company(seed: int) -> dict:
    """One action company: the prediction, when the evidence arrived, and both verdicts."""
    company = generate(seed)
    working, placebo = _plan(company)
    predicted = pd.Timestamp(START) + pd.Timedelta(days=math.ceil(
        working["records_needed"] / company["inflow"] * _DAYS_PER_MONTH + WINDOW))
    exports = _exports()
    arrived = next((as_of for as_of in exports
                    if _n_after(company, "x", as_of) >= working["records_needed"]), None)
    judged = next((as_of for as_of in exports if as_of >= predicted), None)
    row = {"seed": seed, "base": company["base"], "lift": company["lift"],
           "inflow": company["inflow"], "needed": working["records_needed"],
           "predicted": predicted.date(), "arrived": None if arrived is None else arrived.date(),
           "within_month": arrived is not None and abs((arrived - predicted).days) <= 31,
           "judged_at": None if judged is None else judged.date()}
    if judged is None:
        row.update(working="beyond_follow_up", placebo="beyond_follow_up")
        return row
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        verdicts = evaluate_actions(export(company, judged), [working, placebo])
    found = verdicts.set_index("action_id")["verdict"]
    row.update(working=found.get(working["action_id"]), placebo=found.get(placebo["action_id"]))
    return row


def run_restated_company(seed: int) -> dict:
    """One restated company: two consecutive exports, a few closed records edited between."""
    rng = np.random.default_rng([seed, 7])
    company = generate(seed, lift=0.0)
    old_as_of = START + pd.DateOffset(months=int(rng.integers(1, FOLLOW_MONTHS - 1)))
    new_as_of = old_as_of + pd.DateOffset(months=1)
    closed = np.flatnonzero(np.asarray(
        (company["lost_a"] < old_as_of - pd.Timedelta(days=30))
        | (company["lost_b"] < old_as_of - pd.Timedelta(days=30))))
    edited = rng.choice(closed, size=int(rng.integers(3, 21)), replace=False)
    changed = {key: value.copy() if hasattr(value, "copy") else value
               for key, value in company.items()}
    for i in edited:  # an earlier stage re-dated, or a loss turned into a loss one phase later
        if rng.random() < 0.5 or pd.isna(company["lost_a"][i]):
            changed["created"] = _shift(changed["created"], i, -1)
            for key in ("at_b", "at_c", "lost_a", "lost_b"):
                changed[key] = _shift(changed[key], i, -1)
        else:
            changed["lost_a"] = _set(changed["lost_a"], i, pd.NaT)
            changed["at_b"] = _set(changed["at_b"], i, company["lost_a"][i])
            changed["lost_b"] = _set(changed["lost_b"], i,
                                     company["lost_a"][i] + pd.Timedelta(days=5))
    old, new = export(company, old_as_of), export(changed, new_as_of)
    found = record_changes({"as_of": old_as_of.isoformat(), "records": record_chains(old)},
                           {"records": record_chains(new)})
    planted = set(record_chains_codes(new, company["ids"][edited]))
    restated = set(found.loc[found["change"] == "restated", "record"])
    return {"seed": seed, "planted": len(edited), "reported": len(restated),
            "all_found": planted <= restated, "extra": len(restated - planted),
            "as_change": len(planted & set(found.loc[found["change"] != "restated", "record"]))}


def record_chains_codes(engagement: Engagement, ids) -> list[str]:
    """The record codes of `ids` (as the run state names them)."""
    return list(record_codes(engagement, pd.Series(ids)))


def _shift(times: pd.DatetimeIndex, i: int, days: int) -> pd.DatetimeIndex:
    values = times.to_numpy().copy()
    if not pd.isna(values[i]):
        values[i] = values[i] + np.timedelta64(days, "D")
    return pd.DatetimeIndex(values)


def _set(times: pd.DatetimeIndex, i: int, value) -> pd.DatetimeIndex:
    values = times.to_numpy().copy()
    values[i] = np.datetime64("NaT") if pd.isna(value) else np.datetime64(pd.Timestamp(value))
    return pd.DatetimeIndex(values)


def wilson(hits: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson 95% interval of hits / n."""
    if n == 0:
        return math.nan, math.nan
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def table(actions: pd.DataFrame, restated: pd.DataFrame) -> pd.DataFrame:
    """The calibration's figures with Wilson intervals."""
    def line(what, hits, n, target):
        low, high = wilson(int(hits), int(n))
        return {"measure": what, "hits": int(hits), "n": int(n),
                "share": hits / n if n else math.nan, "wilson_low": low, "wilson_high": high,
                "target": target}
    return pd.DataFrame([
        line("working action judged worked by the predicted date",
             (actions["working"] == "worked").sum(), len(actions), ">= 90%"),
        line("predicted date within 1 month of the evidence", actions["within_month"].sum(),
             len(actions), ">= 80%"),
        line("placebo judged worked", (actions["placebo"] == "worked").sum(), len(actions),
             "<= 5%"),
        line("restated history reported as restated (all, nothing else)",
             (restated["all_found"] & (restated["extra"] == 0)
              & (restated["as_change"] == 0)).sum(), len(restated), ">= 95%"),
    ])


def markdown(figures: pd.DataFrame) -> str:
    lines = ["| measure | companies | share (Wilson 95%) | target |", "|---|---|---|---|"]
    for row in figures.itertuples(index=False):
        lines.append(f"| {row.measure} | {row.hits}/{row.n} | {row.share:.1%} "
                     f"({row.wilson_low:.1%}-{row.wilson_high:.1%}) | {row.target} |")
    return "\n".join(lines) + "\n"


def run(companies: int, restated: int, *, seed: int = 1, workers: int = 1
        ) -> tuple[pd.DataFrame, pd.DataFrame]:
    seeds = [seed * 100_000 + i for i in range(max(companies, restated))]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            actions = list(pool.map(run_action_company, seeds[:companies]))
            edits = list(pool.map(run_restated_company, seeds[:restated]))
    else:
        actions = [run_action_company(s) for s in seeds[:companies]]
        edits = [run_restated_company(s) for s in seeds[:restated]]
    return pd.DataFrame(actions), pd.DataFrame(edits)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--companies", type=int, default=100, help="action companies")
    parser.add_argument("--restated", type=int, default=100, help="restated companies")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--out", default="reports/calibration-loop")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    actions, edits = run(args.companies, args.restated, seed=args.seed, workers=args.workers)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    actions.to_csv(out / "action_companies.csv", index=False)
    edits.to_csv(out / "restated_companies.csv", index=False)
    text = markdown(table(actions, edits))
    (out / "calibration.md").write_text(text, encoding="utf-8")
    print(text)
    print(f"{len(actions)} + {len(edits)} companies in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
