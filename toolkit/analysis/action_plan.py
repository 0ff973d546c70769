"""The action plan: every demonstrated gap of step 5 becomes an action written from the phase model.

:func:`action_plan` takes the ranked low-hanging fruit (step 5) and turns each item whose range of
extra orders excludes zero (a bottleneck, a segment, a volume shortage) into one action:

- **what**: the phase model's own words for the phase where the gap sits, never free text. A leak
  (a late bottleneck, records dropping out) names the phase's ``tasks``; an early bottleneck names
  the phase's ``actions``; a volume shortage names the ``actions`` of the early phases (the phases
  before the one short of entries, or that phase itself when it is the first); a segment finding
  names its segment with the phase's tasks (an owner, a region, a product) or shifts effort between
  the phase's actions (an ``action`` segment).
- **who**: the phase's ``functions`` (roles), and the owner where the finding is about one (an
  owner pseudonymised at loading stays its pseudonym).
- **horizon**, by one rule: *structural* (herinrichting, a change to the process itself) when a
  bottleneck's conversion is far below its reference: even the top of its 95% interval is below
  three quarters of the reference rate (:data:`STRUCTURAL_SHARE`); *short term* (an operational
  action within the current process) otherwise: coaching a segment, shifting effort between actions,
  more volume of the existing actions, or a bottleneck close enough to its reference.
- **expected effect** in orders per year with its range, taken from the sizing of step 5 as it is
  (never recomputed); revenue is that range times the same average won value the sizing used, n/a
  when the records carry no amounts.
- **KPI** that will show it: ``conversion_<from>_<to>`` for a step, ``volume_<phase>`` for a volume
  shortage (n/a when the engagement's KPI set has no such KPI).
- **when it can be judged**: the records that must pass the step after the start for a two-sided
  5% test of the conversion before against after to have 80% power at the expected effect
  (:func:`toolkit.stats.power_two_rates`, equal groups: the current rate against the reference the
  sizing raised it to), and the date that takes at the current inflow per month into the step, plus
  the cohort window the records need to convert, counted from the as-of date (no start date is
  known until the consultant sets one); n/a when the step's rate is 0 or 1 (the normal
  approximation of the test does not hold there). A volume shortage is judged on the entries
  themselves: the months a two-sided 5% z test of two Poisson counts (as many months before as
  after) needs for 80% power to tell today's inflow from the needed one, and the entries those
  months bring.

Every action carries a stable ``action_id`` made from the finding's code and values (area, steps,
attribute and the segment's counts), never from row order or a pseudonym, so a rerun under another
pseudonymisation key finds the same action. :func:`write_plan_file` and :func:`read_plan_file`
keep the consultant's ``status`` and ``start`` in ``plan.yaml`` beside the engagement YAML.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml
from scipy.stats import norm

from toolkit.base.docstrings import shared_docs
from toolkit.base.exceptions import ConfigError
from toolkit.base.phases import Phase, PhaseModel
from toolkit.io.engagement import Engagement
from toolkit.io.limits import LimitError, check_regular_file, read_limited
from toolkit.measure.kpis import KPI, kpis_from_config
from toolkit.stats import power_two_rates

if TYPE_CHECKING:
    from toolkit.analysis.diagnosis import LowHangingFruit

__all__ = ["STATUSES", "STRUCTURAL_SHARE", "PLAN_FILE", "ActionPlan", "action_plan",
           "plan_path", "read_plan_file", "write_plan_file", "merge_plan"]

#: The consultant's statuses of an action, in the order an action goes through them.
STATUSES = ("proposed", "agreed", "started", "done", "dropped")

#: A bottleneck whose conversion, even at the top of its 95% interval, stays below this share of
#: its reference needs a change to the process (structural), not more of the same (short term).
STRUCTURAL_SHARE = 0.75

#: The plan file's name, beside the engagement YAML.
PLAN_FILE = "plan.yaml"

_POWER, _ALPHA = 0.8, 0.05
_DAYS_PER_MONTH = 365.25 / 12
_MAX_PLAN_BYTES = 1024 * 1024  # a plan of hundreds of actions is a few tens of KB

PLAN_COLUMNS = (
    "action_id", "rank", "area", "what_code", "phase", "from_phase", "to_phase", "attribute",
    "segment", "what_items", "what", "who", "horizon", "extra_orders", "extra_orders_low",
    "extra_orders_high", "extra_revenue", "extra_revenue_low", "extra_revenue_high", "kpi",
    "label", "kind", "rate", "expected_rate", "records_needed", "inflow_per_month", "needed_inflow_per_month",
    "window_days", "judge_by",
    "status", "start")


@dataclass(frozen=True)
class ActionPlan:
    """The action plan: ``table`` (one row per action, :data:`PLAN_COLUMNS`), the as-of date it
    counts from, and the reason of any part left out (``problems``)."""

    table: pd.DataFrame
    as_of: pd.Timestamp
    problems: dict[str, str] = field(default_factory=dict)

    @property
    def summary(self) -> pd.DataFrame:
        """What, horizon, expected orders per year (range), KPI and judgement date per action."""
        return self.table[["action_id", "what", "who", "horizon", "extra_orders",
                           "extra_orders_low", "extra_orders_high", "kpi", "records_needed",
                           "judge_by", "status"]]


@shared_docs
def action_plan(engagement: Engagement, fruit: LowHangingFruit | pd.DataFrame, *,
                sizing: pd.DataFrame | None = None) -> ActionPlan:
    """The action plan of step 5's ranked low-hanging fruit: every demonstrated gap as an action
    written from the phase model (what, who, horizon, effect, KPI, when it can be judged; the
    module docstring gives every rule).

    Parameters
    ----------
    {shared.engagement}
    fruit : LowHangingFruit or DataFrame
        Step 5's ranked list (``low_hanging_fruit``), or its ``table``.
    sizing : DataFrame, optional
        The bottleneck sizing the inflow per month is read from; default ``fruit.sizing``.

    Returns
    -------
    ActionPlan
        ``table`` (one row per action, ``PLAN_COLUMNS``), the as-of date it counts from and
        the reason of any part left out (``problems``).
    """
    table = fruit if isinstance(fruit, pd.DataFrame) else fruit.table
    if sizing is None and not isinstance(fruit, pd.DataFrame):
        sizing = fruit.sizing
    model = engagement.phase_model
    phases = {p.key: p for p in model.phases}
    # the engagement's measurement date (from the YAML, else the data's latest time); a lead list
    # without dates has none, and then no judgement date
    as_of = pd.Timestamp(engagement.as_of) if engagement.dated else pd.NaT
    window = int(engagement.config.cohort_window_days)
    kpis = _kpi_names(engagement)
    inflow = _inflow(sizing)
    demonstrated = table[table["area"].isin(("bottleneck", "segment", "volume"))
                         & (table["extra_orders_low"] > 0)]
    rows = [_action(row, model, phases, as_of, window, kpis, inflow)
            for row in demonstrated.to_dict("records")]
    frame = pd.DataFrame(rows, columns=list(PLAN_COLUMNS))
    return ActionPlan(table=frame.reset_index(drop=True), as_of=as_of)


def _kpi_names(engagement: Engagement) -> dict[str, KPI]:
    return {kpi.name: kpi for kpi in kpis_from_config(engagement)}


def _inflow(sizing: pd.DataFrame | None) -> dict[str, tuple[float, float]]:
    """Per phase: (records entering it per month, the mature records the sizing counted there)."""
    if sizing is None or not len(sizing):
        return {}
    first = sizing.drop_duplicates("from_phase")
    return {row.from_phase: (float(row.entries_per_period), float(row.n))
            for row in first.itertuples(index=False)}


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _action(row: dict[str, Any], model: PhaseModel, phases: Mapping[str, Phase],
            as_of: pd.Timestamp, window: int, kpis: Mapping[str, KPI],
            inflow: Mapping[str, tuple[float, float]]) -> dict:
    area, start, end = row["area"], row["from_phase"], row.get("to_phase")
    phase = phases[start]
    entry = {"rank": row["rank"], "area": area, "from_phase": start,
             "to_phase": None if _missing(end) else end, "attribute": None, "segment": None,
             "phase": start, "extra_orders": row["extra_orders"],
             "extra_orders_low": row["extra_orders_low"],
             "extra_orders_high": row["extra_orders_high"], "window_days": window,
             "status": "proposed", "start": None}
    entry.update(_revenue(row))
    if area == "volume":
        early = model.keys[:model.keys.index(start)] or (start,)
        items = [a for key in early for a in phases[key].actions]
        who = [f for key in early for f in phases[key].functions]
        entry.update(action_id=f"volume-{start}", what_code="volume", phase=early[0],
                     what_items=items, who=_unique(who), horizon="short_term",
                     **_kpi(f"volume_{start}", kpis))
        entry.update(_volume_judgement(float(row["rate"]), float(row["reference_rate"]), as_of))
    else:
        rate, reference = float(row["rate"]), float(row["reference_rate"])
        if area == "bottleneck":
            leak = row.get("side") != "early"
            structural = float(row["ci_high"]) < STRUCTURAL_SHARE * reference
            entry.update(action_id=f"{'leak' if leak else 'raise'}-{start}-{end}",
                         what_code="leak" if leak else "raise",
                         what_items=list(phase.tasks if leak else phase.actions),
                         who=list(phase.functions),
                         horizon="structural" if structural else "short_term")
            entries = inflow.get(start, (math.nan, math.nan))[0]
        else:
            attribute, segment = str(row["attribute"]), str(row["segment"])
            successes = int(round(rate * float(row["n"])))
            code = ("shift" if attribute == "action" else
                    "coach" if attribute == "owner" else "segment")
            items = ([a for a in phase.actions if a != segment] if code == "shift"
                     else list(phase.tasks))
            entry.update(action_id=f"{code}-{attribute}-{start}-{end}-{successes}of{int(row['n'])}",
                         what_code=code, attribute=attribute, segment=segment, what_items=items,
                         who=[segment] if code == "coach" else list(phase.functions),
                         horizon="short_term")
            # the segment's share of the phase's records, of the phase's inflow per month
            entries, counted = inflow.get(start, (math.nan, math.nan))
            entries = entries * float(row["n"]) / counted if counted else math.nan
        entry.update(_kpi(f"conversion_{start}_{end}", kpis))
        entry.update(_rate_judgement(rate, reference, entries, window, as_of))
    entry["what"] = _what_english(entry, model)
    entry["who"] = ", ".join(entry["who"])
    entry["what_items"] = "; ".join(entry["what_items"])
    return entry


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _kpi(name: str, kpis: Mapping[str, KPI]) -> dict[str, object]:
    """The KPI that will show the action: its key, and its label and kind, which the page writes
    in the report's language (toolkit.present.tables' KPI column)."""
    kpi = kpis.get(name)
    if kpi is None:
        return {"kpi": None, "label": None, "kind": None}
    return {"kpi": name, "label": kpi.label, "kind": kpi.kind}


def _revenue(row: Mapping[str, Any]) -> dict:
    """The revenue range: the orders range times the average won value the sizing used."""
    orders, revenue = row["extra_orders"], row.get("extra_revenue")
    if _missing(revenue) or _missing(orders) or orders == 0:
        return {"extra_revenue": None, "extra_revenue_low": None, "extra_revenue_high": None}
    value = revenue / orders
    return {"extra_revenue": revenue, "extra_revenue_low": row["extra_orders_low"] * value,
            "extra_revenue_high": row["extra_orders_high"] * value}


def _rate_judgement(rate: float, reference: float, entries: float, window: int,
                    as_of: pd.Timestamp) -> dict:
    """Records after the start for 80% power at the expected effect (rate -> reference, two-sided
    5%, as many records before as after), and the date at `entries` a month plus the window."""
    needed = None
    # a rate of 0 or 1 (a segment that never or always converts) or no gap: no normal test, so
    # no number of records (the rates are the data's, never an argument error)
    if 0.0 < rate < 1.0 and 0.0 < reference < 1.0 and rate != reference:
        needed = math.ceil(power_two_rates(rate, reference, power=_POWER, alpha=_ALPHA))
    judge_by = None
    if needed is not None and entries and not math.isnan(entries) and entries > 0:
        days = needed / entries * _DAYS_PER_MONTH + window
        judge_by = (as_of + pd.Timedelta(days=math.ceil(days))).date()
    return {"rate": rate, "expected_rate": reference, "records_needed": needed,
            "inflow_per_month": entries if entries and not math.isnan(entries) else None,
            "judge_by": judge_by}


def _volume_judgement(current: float, needed_per_month: float, as_of: pd.Timestamp) -> dict:
    """Entries after the start for 80% power of a two-sided 5% z test of two Poisson counts over
    as many months before as after: m = (z_a/2 + z_b)^2 (l0 + l1) / (l1 - l0)^2 months."""
    z = norm.ppf(1 - _ALPHA / 2) + norm.ppf(_POWER)
    months = z ** 2 * (current + needed_per_month) / (needed_per_month - current) ** 2
    days = math.ceil(months * _DAYS_PER_MONTH)
    return {"rate": None, "expected_rate": None,
            "records_needed": math.ceil(months * needed_per_month),
            "inflow_per_month": current, "needed_inflow_per_month": needed_per_month,
            "window_days": 0,
            "judge_by": (as_of + pd.Timedelta(days=days)).date()}


def _what_english(entry: dict, model: PhaseModel) -> str:
    """The action in English words (the report writes it in its language from the same fields)."""
    phase, items = model.label(entry["phase"]), "; ".join(entry["what_items"]) or "n/a"
    code = entry["what_code"]
    if code == "leak":
        return f"Tighten the tasks at {phase}: {items}"
    if code == "raise":
        return f"Improve the actions at {phase}: {items}"
    if code == "volume":
        return f"More volume from the actions at {phase}: {items}"
    if code == "coach":
        return f"Coach {entry['segment']} on the tasks at {phase}: {items}"
    if code == "shift":
        return f"Shift effort at {phase} away from {entry['segment']} towards: {items}"
    return f"Find out why {entry['attribute']} {entry['segment']} converts worse at {phase}: {items}"


# ------------------------------------------------------------------------------ the plan file
@shared_docs
def plan_path(engagement: Engagement) -> Path | None:
    """Where the engagement's plan lives: ``plan.yaml`` beside its YAML.

    Parameters
    ----------
    {shared.engagement}

    Returns
    -------
    Path or None
        The file's path; None for an engagement built in memory, which has no folder.
    """
    folder = getattr(engagement, "path", None)
    return None if folder is None else Path(folder).parent / PLAN_FILE


@shared_docs
def read_plan_file(engagement: Engagement, path: Path | None = None) -> dict[str, dict] | None:
    """The consultant's plan, checked against the engagement.

    Parameters
    ----------
    {shared.engagement}
    path : Path, optional
        The plan file; default :func:`plan_path`.

    Returns
    -------
    dict of str to dict or None
        Action id -> its entry; None when there is no plan file.

    Raises
    ------
    ConfigError
        A phase or segment the engagement no longer has, an unknown status or a start that is
        no date: naming the file, the action and the fix.
    """
    path = plan_path(engagement) if path is None else Path(path)
    loaded = None if path is None else _load_plan(engagement, path)
    return None if loaded is None else loaded[1]


def _load_plan(engagement: Engagement, path: Path) -> tuple[dict, dict[str, dict]] | None:
    """The plan file's document and its checked actions by id (None when there is no file)."""
    doc = _plan_document(path)
    if doc is None:
        return None
    actions = doc.get("actions") if isinstance(doc, dict) else None
    if not isinstance(actions, list):
        raise ConfigError("the action plan has no list under `actions`", file=str(path),
                          key="actions", fix="keep the `actions:` list `funnel run` wrote")
    keys = set(engagement.phase_model.keys)
    plan: dict[str, dict] = {}
    for i, action in enumerate(actions):
        if not isinstance(action, dict) or not action.get("id"):
            raise ConfigError("an action without an `id`", file=str(path),
                              key=f"actions[{i}]", fix="keep each action's `id` as written")
        name = str(action["id"])
        _check_action(action, name, i, path, keys, engagement)
        plan[name] = action
    return doc, plan


def _plan_document(path: Path) -> dict | None:
    """The plan file's YAML (None when there is none), read with the checks every file the
    engagement names gets: a regular file of at most 1 MiB, never a device, a pipe or a system
    file behind a link (a link to /dev/zero would be read until memory runs out)."""
    if not (path.exists() or path.is_symlink()):
        return None
    fix = "make plan.yaml an ordinary file beside the engagement YAML, or delete it to have " \
          "`funnel run` write a new one"
    try:
        check_regular_file(path, limit=_MAX_PLAN_BYTES, what="action plan")
        text = read_limited(path, limit=_MAX_PLAN_BYTES, what="action plan").decode("utf-8")
        return yaml.safe_load(text) or {}
    except LimitError as error:
        raise ConfigError(str(error), file=str(path), fix=error.fix) from None
    except UnicodeDecodeError:
        raise ConfigError("the action plan is not UTF-8 text", file=str(path), fix=fix) from None
    except yaml.YAMLError as error:
        raise ConfigError(f"the action plan is no valid YAML ({error.__class__.__name__})",
                          file=str(path), fix="repair the file, or delete it to have `funnel "
                          "run` write a new one") from None


def _check_action(action: dict, name: str, i: int, path: Path, keys: set[str],
                  engagement: Engagement) -> None:
    where = f"actions[{i}] (id {name})"
    for key in ("phase", "from_phase", "to_phase"):
        value = action.get(key)
        if value is not None and str(value) not in keys:
            raise ConfigError(f"action {name} names a phase the engagement no longer has",
                              file=str(path), key=f"{where}.{key}", value=value,
                              fix=f"use one of {', '.join(sorted(keys))}, or drop the action")
    attribute, segment = action.get("attribute"), action.get("segment")
    if attribute is not None:
        records = engagement.records
        if str(attribute) not in records.columns:
            raise ConfigError(f"action {name} names an attribute the engagement no longer has",
                              file=str(path), key=f"{where}.attribute", value=attribute,
                              fix="declare it under the source's `attributes`, or drop the action")
        if segment is not None and not (records[str(attribute)].astype(str)
                                        == str(segment)).any():
            raise ConfigError(f"action {name} names a segment the engagement no longer has",
                              file=str(path), key=f"{where}.segment", value=segment,
                              fix=f"use a value of `{attribute}` in the records, or drop the "
                                  "action")
    status = action.get("status", "proposed")
    if str(status) not in STATUSES:
        raise ConfigError(f"action {name} has an unknown status", file=str(path),
                          key=f"{where}.status", value=status,
                          fix=f"use one of {', '.join(STATUSES)}")
    start = action.get("start")
    if start is not None and not isinstance(start, dt.date):
        try:
            dt.date.fromisoformat(str(start))
        except ValueError:
            raise ConfigError(f"action {name} has a start that is no date", file=str(path),
                              key=f"{where}.start", value=start,
                              fix="write the date as YYYY-MM-DD, or leave it empty") from None


def merge_plan(plan: ActionPlan, saved: dict[str, dict] | None) -> ActionPlan:
    """The plan with the consultant's status and start of each saved action.

    Parameters
    ----------
    plan : ActionPlan
        This run's plan.
    saved : dict of str to dict or None
        The saved plan (:func:`read_plan_file`); None: none saved.

    Returns
    -------
    ActionPlan
        `plan` with the saved statuses and starts.
    """
    if not saved:
        return plan
    table = plan.table.copy()
    for i, name in enumerate(table["action_id"]):
        if name in saved:
            table.at[i, "status"] = str(saved[name].get("status", "proposed"))
            start = saved[name].get("start")
            table.at[i, "start"] = None if start is None else dt.date.fromisoformat(str(start))
    return ActionPlan(table=table, as_of=plan.as_of, problems=plan.problems)


@shared_docs
def write_plan_file(engagement: Engagement, plan: ActionPlan, path: Path | None = None) -> Path:
    """Write the plan file when absent; when present, keep every saved action as the consultant
    left it (status, start, anything else) and append the new actions only.

    Parameters
    ----------
    {shared.engagement}
    plan : ActionPlan
        This run's plan.
    path : Path, optional
        The plan file; default :func:`plan_path`.

    Returns
    -------
    Path
        The file written (or kept).
    """
    path = plan_path(engagement) if path is None else Path(path)
    if path is None:
        raise ConfigError("this engagement has no YAML file, so no folder for its action plan",
                          fix="pass `path=` to write the plan to")
    loaded = _load_plan(engagement, path)  # read once, checked
    doc, saved = loaded if loaded is not None else ({"actions": []}, None)
    new = [_file_entry(row) for row in plan.table.to_dict("records")
           if saved is None or row["action_id"] not in saved]
    if saved is not None and not new:
        return path  # nothing to add: the file stays byte for byte as the consultant left it
    doc["actions"] = list(doc["actions"]) + new
    text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    path.write_text(_HEADER + text, encoding="utf-8")
    return path


_HEADER = ("# The action plan of this engagement, written by `funnel run` when absent (see\n"
           "# docs/steps.md, \"The action plan\"). Edit `status` (proposed, agreed, started, done,\n"
           "# dropped) and `start` (YYYY-MM-DD) of each action: a rerun keeps them and adds new\n"
           "# actions only.\n")


def _file_entry(row: dict) -> dict:
    entry = {"id": row["action_id"], "what": row["what"], "phase": row["phase"],
             "from_phase": row["from_phase"]}
    if not _missing(row["to_phase"]):
        entry["to_phase"] = row["to_phase"]
    if not _missing(row["attribute"]):
        entry["attribute"], entry["segment"] = row["attribute"], row["segment"]
    entry.update(status="proposed", start=None)
    return entry

