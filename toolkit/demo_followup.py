"""The demo company six months later: a second export that shows the loop from one report to the
next (``funnel demo`` runs both; ``--no-followup`` skips this one).

:func:`write_followup` writes, into a folder of its own, the engagement YAML (the demo's, with
the as-of date six months on), the stage-history export and ``plan.yaml``:

- **the same records plus six more months**: every row of the demo's export as it is, then the
  stage changes of the six months after its as-of date: the records open then move on or are
  lost, and new records are created at the inflow of the last twelve months (their attributes
  drawn from the records of those months). Each step converts at its rate in the first export
  (per action at the first step, per owner at the proposal step), with the demo's delays (gamma,
  shape 1.5, medians 10/20/30/25 days to convert and 15/30/40/35 days to be lost).
- **one action that works**: the plan's leak at the opportunity step (:data:`WORKING_ACTION`),
  started on the first report's as-of date: records entering the opportunity phase from then on
  convert :data:`WORKING_LIFT` (18 points) more often.
- **one placebo**: the shift away from cold calling at the first step (:data:`PLACEBO_ACTION`),
  started the same day, which changes nothing.
- **a few records restated**: :data:`RESTATED` records closed long before the first as-of date
  get their closing row re-dated by a day, as a CRM user editing history after the fact would.
- ``plan.yaml``: the first report's plan with both actions ``started`` on the first as-of date,
  the others ``agreed``, as the consultant would have set them.

Why six months and not three: an action is judged on mature records only (their 90-day window
closed), and the working action's plan needs its records to pass the step after the start: the
plan predicts a judgement date about five months after the start (2027-03-28), so a second
export three months on would only say "too early to judge".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from toolkit.analysis.action_plan import PLAN_FILE, ActionPlan, write_plan_file
from toolkit.base.docstrings import shared_docs
from toolkit.base.paths import DEMO_ENGAGEMENT
from toolkit.io.engagement import Engagement

__all__ = ["MONTHS", "WORKING_ACTION", "PLACEBO_ACTION", "WORKING_LIFT", "RESTATED",
           "write_followup"]

#: Months between the first export and the follow-up.
MONTHS = 6
#: The action that works, and by how much (a share: 0.18 = 18 points) at its step.
WORKING_ACTION, WORKING_LIFT = "leak-opportunity-proposal", 0.18
#: The action that does nothing.
PLACEBO_ACTION = "shift-action-target-lead-587of3879"
#: Records whose history the follow-up restates.
RESTATED = 6

_STAGE = {"target": "Suspect", "lead": "Lead", "opportunity": "Potentieel",
          "proposal": "Offerte uitgebracht", "won": "Gewonnen", "lost": "Verloren"}
_CONVERT_DAYS = (10, 20, 30, 25)
_LOSS_DAYS = (15, 30, 40, 35)
_SHAPE = 1.5
_COLUMNS = ["Deal ID", "Fase", "Datum wijziging", "Bedrag", "Actie", "Eigenaar", "Regio",
            "Product", "Aangemaakt op", "Contactpersoon"]


def _rates(engagement: Engagement) -> tuple[list[dict], list[float]]:
    """Per step: the rate by action (first step), by owner (proposal step) and overall."""
    records = engagement.records.set_index("record_id")
    keys = engagement.phase_model.keys
    reached = engagement.events.pivot_table(index="record_id", columns="phase", values="entered_at",
                                            aggfunc="min", observed=False)
    by: list[dict[Any, float]] = []
    overall: list[float] = []
    for k, key in enumerate(keys[:-1]):
        there = reached[key].notna()
        on = reached[keys[k + 1:]].notna().any(axis=1)
        lost = records["lost_at_phase"].astype(str).reindex(reached.index) == key
        decided = there & (on | lost)
        overall.append(float(on[decided].mean()))
        column = "action" if k == 0 else "owner" if key == "proposal" else None
        if column is None:
            by.append({})
            continue
        groups = records[column].reindex(reached.index)[decided]
        by.append(on[decided].groupby(groups).mean().to_dict())
    return by, overall


def _delay(rng: np.random.Generator, median: np.ndarray) -> np.ndarray:
    from scipy.special import gammaincinv
    scale = median / float(gammaincinv(_SHAPE, 0.5))
    return rng.gamma(_SHAPE, scale)


def _rows_after(first: Engagement, raw: pd.DataFrame, as_of: pd.Timestamp, until: pd.Timestamp,
                rng: np.random.Generator) -> pd.DataFrame:
    """The stage changes between the two as-of dates: open records moving on, new records."""
    keys = first.phase_model.keys
    by, overall = _rates(first)
    records = first.records.set_index("record_id")
    last_rows = raw.drop_duplicates("Deal ID", keep="last").set_index("Deal ID")
    reached = first.events.groupby("record_id", observed=True)["phase"].max().astype(str)
    open_ids = records.index[records["outcome"].astype(str) == "open"]
    state = pd.DataFrame({"record": open_ids, "phase": reached.reindex(open_ids).to_numpy(),
                          "t": as_of, "entered_opportunity": pd.NaT})
    state = state[state["phase"].isin(keys[:-1]) & state["record"].isin(last_rows.index)]
    # new records at the inflow of the last twelve months, attributes drawn from those months
    created = pd.to_datetime(records["created_at"])
    recent = records[created > as_of - pd.DateOffset(months=12)].index
    recent = recent[recent.isin(last_rows.index)]
    days = pd.date_range(as_of, until - pd.Timedelta(days=1), freq="B", unit="ns")
    count = int(round(len(recent) / 365.25 * (until - as_of).days))
    when = pd.to_datetime(np.sort(rng.choice(days.asi8, size=count)) + rng.integers(
        9 * 3600, 17 * 3600, size=count) * 1_000_000_000, unit="ns")
    number = int(raw["Deal ID"].str.extract(r"(\d+)", expand=False).astype(float).max())
    new_ids = [f"D{number + i + 1:06d}" for i in range(count)]
    template = rng.choice(np.asarray(recent), size=count)
    new_rows = last_rows.loc[template].reset_index(drop=True)
    new_rows["Deal ID"] = new_ids
    new_rows["Aangemaakt op"] = pd.to_datetime(when).strftime("%d-%m-%Y")
    attributes = pd.concat([last_rows, new_rows.set_index("Deal ID")])
    entry = first.events.groupby("record_id", observed=True)["phase"].min().astype(str)
    entry = entry.reindex(template).fillna(keys[0]).to_numpy()
    out = [{"Deal ID": rid, "stage": phase, "at": t}
           for rid, phase, t in zip(new_ids, entry, when, strict=True)]
    state = pd.concat([state, pd.DataFrame({"record": new_ids, "phase": entry, "t": when,
                                            "entered_opportunity": pd.NaT})],
                      ignore_index=True)
    opportunity = keys.index("opportunity")
    # for the working action: when each open record entered the opportunity phase
    entered = first.events[first.events["phase"].astype(str) == "opportunity"]
    entered = entered.drop_duplicates("record_id").set_index("record_id")["entered_at"]
    state["entered_opportunity"] = state["record"].map(entered)
    state.loc[state["record"].isin(new_ids) & (state["phase"] == "opportunity"),
              "entered_opportunity"] = state["t"]
    while len(state):
        k = state["phase"].map(keys.index).to_numpy()
        found = attributes.loc[state["record"]]
        p = np.asarray(overall)[k]
        for i, column in ((0, "Actie"), (keys.index("proposal"), "Eigenaar")):
            mine = k == i
            p[mine] = [by[i].get(v, overall[i]) for v in found[column].to_numpy()[mine]]
        started = (k == opportunity) & (state["entered_opportunity"] >= as_of).to_numpy()
        p = np.clip(p + WORKING_LIFT * started, 0, 1)
        converts = rng.random(len(state)) < p
        median = np.where(converts, np.asarray(_CONVERT_DAYS)[k], np.asarray(_LOSS_DAYS)[k])
        at = state["t"] + pd.to_timedelta(_delay(rng, median.astype(float)), unit="D")
        happened = (at < until).to_numpy()
        nxt = np.asarray(keys)[np.minimum(k + 1, len(keys) - 1)]
        stage = np.where(converts, np.where(k + 1 == len(keys) - 1, "won", nxt), "lost")
        out += [{"Deal ID": r, "stage": s, "at": t} for r, s, t, h in
                zip(state["record"], stage, at, happened, strict=True) if h]
        moving = converts & happened & (k + 1 < len(keys) - 1)
        state = state[moving].assign(phase=nxt[moving], t=at[moving].to_numpy())
        state.loc[state["phase"] == "opportunity", "entered_opportunity"] = state["t"]
    rows = pd.DataFrame(out).sort_values("at", kind="stable")
    table = attributes.loc[rows["Deal ID"]].reset_index(names="Deal ID")
    table["Fase"] = rows["stage"].map(_STAGE).to_numpy()
    table["Datum wijziging"] = pd.to_datetime(rows["at"]).dt.strftime("%d-%m-%Y %H:%M").to_numpy()
    return table[_COLUMNS]


def _restate(raw: pd.DataFrame, as_of: pd.Timestamp, rng: np.random.Generator
             ) -> tuple[pd.DataFrame, list[str]]:
    """Re-date the closing row of a few records closed long before the as-of date by one day."""
    dates = pd.to_datetime(raw["Datum wijziging"], format="%d-%m-%Y %H:%M", errors="coerce")
    clean = raw["Deal ID"].str.match(r"^D\d{6}$") & dates.notna()
    closing = raw["Fase"].str.strip().str.lower().isin(["verloren", "gewonnen"]) & clean
    counts = raw.groupby("Deal ID")["Deal ID"].transform("size")
    dirty = set(raw.loc[raw.duplicated(keep=False) | ~clean, "Deal ID"])  # the export's own dirt
    eligible = raw.index[closing & (dates < as_of - pd.DateOffset(months=6)) & (counts >= 2)
                         & ~raw["Deal ID"].isin(dirty)]
    chosen = sorted(rng.choice(np.asarray(eligible), size=RESTATED, replace=False))
    raw = raw.copy()
    for i in chosen:
        raw.at[i, "Datum wijziging"] = (dates[i] + pd.Timedelta(days=1)).strftime("%d-%m-%Y %H:%M")
    return raw, [raw.at[i, "Deal ID"] for i in chosen]


@shared_docs
def write_followup(out_dir: str | Path, *, first: Engagement | None = None,
                   plan: ActionPlan | None = None, seed: int = 2024) -> dict[str, Path]:
    """Write the follow-up export, its engagement YAML and ``plan.yaml`` into `out_dir` (the
    module docstring describes the six months that follow).

    Parameters
    ----------
    out_dir : str or Path
        The folder to write into.
    first : Engagement, optional
        The demo engagement; loaded here when not given.
    plan : ActionPlan, optional
        The first report's action plan (step 6), whose actions the plan file holds.
    {shared.seed}

    Returns
    -------
    dict of str to Path
        The paths under ``engagement``, ``history``, ``plan`` and ``readme``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    first = first or Engagement.from_yaml(DEMO_ENGAGEMENT)
    as_of = pd.Timestamp(first.as_of)
    until = as_of + pd.DateOffset(months=MONTHS)
    rng = np.random.default_rng([seed, 23])
    source = DEMO_ENGAGEMENT.parent / "crm_fasehistorie.csv"
    raw = pd.read_csv(source, sep=";", encoding="cp1252", dtype=str, keep_default_na=False)
    raw, restated = _restate(raw, as_of, rng)
    after = _rows_after(first, raw, as_of, until, rng)
    text = pd.concat([raw, after], ignore_index=True).to_csv(sep=";", index=False)
    history = out / "crm_fasehistorie.csv"
    history.write_bytes(text.encode("cp1252", errors="replace"))
    config = DEMO_ENGAGEMENT.read_text(encoding="utf-8")
    config = config.replace(f"as_of: {as_of.date().isoformat()}",
                            f"as_of: {until.date().isoformat()}", 1)
    engagement = out / "engagement.yaml"
    engagement.write_text("# The demo company six months later (toolkit/demo_followup.py).\n"
                          + config, encoding="utf-8")
    paths = {"engagement": engagement, "history": history, "readme": out / "README.md"}
    if plan is not None:
        path = out / PLAN_FILE
        path.unlink(missing_ok=True)
        write_plan_file(first, plan, path=path)
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for action in doc["actions"]:
            started = action["id"] in (WORKING_ACTION, PLACEBO_ACTION)
            action["status"] = "started" if started else "agreed"
            action["start"] = as_of.date() if started else None
        path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False),
                        encoding="utf-8")
        paths["plan"] = path
    paths["readme"].write_text(_readme(as_of, until, len(restated)), encoding="utf-8")
    return paths


def _readme(as_of: pd.Timestamp, until: pd.Timestamp, restated: int) -> str:
    return f"""# The demo company six months later (answer key of the follow-up)

Written by `funnel demo` (toolkit/demo_followup.py): the export of {as_of.date()} with every row
as it was, plus the stage changes up to {until.date()}. The page "Sinds het vorige rapport" of the
second report should find:

- the action `{WORKING_ACTION}` (Taken aanscherpen bij Kans (opportunity)), started on
  {as_of.date()}: **werkte** (+{round(WORKING_LIFT * 100)} points planted at the step from the
  opportunity phase to the proposal phase);
- the action `{PLACEBO_ACTION}` (Inzet verschuiven weg van koud bellen), started the same day,
  which changes nothing: **werkte niet**;
- **{restated} records with their history restated** (a closing date edited after the fact),
  counted and listed by record code and left out of the before/after;
- records added: the new records of the six months; none removed.
"""

