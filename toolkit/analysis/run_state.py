"""What the next run needs of this one: a compact, versioned run state.

At the end of ``funnel run`` :func:`run_state` gathers, from the step results and the engagement,
what a later run compares against (``run-state.json.gz`` in the report folder, listed in the
report's marker as a file the toolkit wrote):

- ``as_of`` (the measurement date) and ``run_at`` (when the run was made);
- ``scorecard``: per KPI its month (``period``), value, successes and trials, 95% interval, and
  the control limits of that month when the KPI is the one step 7 charts;
- ``findings``: step 5's ranked list as stable keys (area, step, attribute, segment; never a
  sentence) with their codes;
- ``actions``: the action plan (stable ``action_id``, status, start, step, the expected effect as
  its rate now and expected, and its extra orders per year with their range, the records needed
  and the judgement date); ``evaluations``: each started action's evaluation of this run;
- ``records``: per record its code ``R-`` + sha256(pseudonymised record key)[:12] and the chain
  of its history: one ``[minute, hash]`` pair per event (creation, each phase entered, the
  close), the hash running over every event up to it (sha256, 8 hex digits). The chain holds no
  value of the record (no name, no amount, no stage label), yet the history *as an export of any
  earlier date saw it* is its last pair at or before that date: :func:`fingerprint_at`. So two
  states alone tell a restated history from a record that merely moved on.

The schema is versioned (:data:`SCHEMA_VERSION`); a state of an unknown version is refused with a
clear message (:func:`read_run_state`).
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from toolkit.base.docstrings import shared_docs
from toolkit.base.exceptions import ConfigError
from toolkit.io.engagement import Engagement
from toolkit.io.privacy import pseudonymise

__all__ = ["SCHEMA_VERSION", "STATE_FILE", "run_state", "record_chains", "fingerprint_at",
           "write_run_state", "read_run_state", "finding_key"]

#: The version of the run state's schema; a state of another version is refused.
SCHEMA_VERSION = 1

#: The run state's file name in a report folder.
STATE_FILE = "run-state.json.gz"

_EPOCH = pd.Timestamp("1970-01-01")


def _plain(value: Any) -> Any:
    """A JSON value: NaN, NaT and None as None; numpy numbers as Python numbers; dates as ISO."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, float | np.floating):
        return None if math.isnan(float(value)) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, pd.Period):
        return str(value)
    return value


def finding_key(row: dict) -> str:
    """A finding's stable key: its area, step, attribute and segment (never its sentence).

    Parameters
    ----------
    row : dict
        A row of step 5's ranked list.

    Returns
    -------
    str
        The key.
    """
    parts = [row.get("area"), row.get("from_phase"), row.get("to_phase"), row.get("attribute"),
             row.get("segment")]
    return "|".join("" if _plain(p) is None else str(p) for p in parts)


def _minutes(times: pd.Series) -> np.ndarray:
    return ((pd.to_datetime(times) - _EPOCH) // pd.Timedelta(minutes=1)).to_numpy()


def record_codes(engagement: Engagement, ids: pd.Series) -> pd.Series:
    """``R-`` + sha256 of each record key's keyed pseudonym, first 12 hex digits."""
    pseudonyms = pseudonymise(ids.astype(str), engagement.pseudonym_key)
    return pseudonyms.map(lambda p: "R-" + hashlib.sha256(str(p).encode()).hexdigest()[:12])


@shared_docs
def record_chains(engagement: Engagement) -> dict[str, list[list]]:
    """Per record code the hash chain of its history, in time order.

    Parameters
    ----------
    {shared.engagement}

    Returns
    -------
    dict of str to list
        Record code -> ``[[minute, hash], ...]``: creation, each phase entered (phase key and
        minute), the close (outcome, the phase lost at, minute); each hash runs over every
        event up to it and holds no value of the record.
    """
    events = engagement.events
    records = engagement.records
    items: list[pd.DataFrame] = []
    if "created_at" in records:
        items.append(pd.DataFrame({"record_id": records["record_id"].astype(str),
                                   "at": pd.to_datetime(records["created_at"]),
                                   "what": "created", "order": 0}))
    items.append(pd.DataFrame({"record_id": events["record_id"].astype(str),
                               "at": pd.to_datetime(events["entered_at"]),
                               "what": "phase:" + events["phase"].astype(str),
                               "order": 1}))
    closed = records[records["outcome"].astype(str).isin(["won", "lost"])]
    if "closed_at" in closed:
        lost_at = (closed["lost_at_phase"].astype(object).where(closed["lost_at_phase"].notna(), "")
                   if "lost_at_phase" in closed else "")
        items.append(pd.DataFrame({"record_id": closed["record_id"].astype(str),
                                   "at": pd.to_datetime(closed["closed_at"]),
                                   "what": "close:" + closed["outcome"].astype(str) + ":"
                                           + pd.Series(lost_at, index=closed.index).astype(str),
                                   "order": 2}))
    table = pd.concat(items, ignore_index=True)
    table = table[table["at"].notna()]
    table["minute"] = _minutes(table["at"])
    table = table.sort_values(["record_id", "minute", "order", "what"], kind="stable")
    codes = dict(zip(records["record_id"].astype(str),
                     record_codes(engagement, records["record_id"]), strict=True))
    chains: dict[str, list[list]] = {}
    chain: list[list] = []
    current, digest = None, hashlib.sha256()
    # one pass over the sorted links (a groupby per record took seconds at 12,000 records)
    for record, minute, what in zip(table["record_id"].tolist(), table["minute"].tolist(),
                                    table["what"].tolist(), strict=True):
        if record != current:
            current, chain, digest = record, [], hashlib.sha256()
            code = codes.get(str(record))
            if code is not None:
                chains[code] = chain
        digest.update(f"{minute}:{what};".encode())
        chain.append([int(minute), digest.hexdigest()[:8]])
    return chains


def fingerprint_at(chain: list[list], cutoff_minute: int | None) -> str:
    """The history's fingerprint as an export made at `cutoff_minute` saw it.

    An export holds what happened before its as-of moment: the chain's last link before that
    minute.

    Parameters
    ----------
    chain : list of [int, str]
        A record's chain (:func:`record_chains`).
    cutoff_minute : int or None
        The export's as-of moment in minutes; None: the whole chain.

    Returns
    -------
    str
        The hash of the last link before the cutoff; ``""`` when the record did not exist yet.
    """
    seen = [link[1] for link in chain if cutoff_minute is None or link[0] < cutoff_minute]
    return seen[-1] if seen else ""


def _as_minute(as_of: Any) -> int | None:
    if as_of is None:
        return None
    return int((pd.Timestamp(as_of) - _EPOCH) // pd.Timedelta(minutes=1))


def _scorecard(results: Mapping[int, Any]) -> list[dict]:
    steering = results.get(7)
    card = steering.tables.get("scorecard") if steering is not None else None
    if steering is None or card is None or not len(card):
        return []
    chart = steering.tables.get("control chart")
    view = steering.results.get("view")
    charted = getattr(view, "steer_on", None)  # the KPI the control chart draws
    out = []
    for row in card.to_dict("records"):
        n = _plain(row.get("n"))
        value = _plain(row.get("value"))
        entry = {"kpi": str(row["kpi"]), "label": _plain(row.get("label")),
                 "unit": _plain(row.get("unit")), "period": _plain(row.get("period")),
                 "value": value, "trials": n,
                 "successes": (None if n is None or value is None or row.get("unit") != "%"
                               else int(round(value * n))),
                 "ci_low": _plain(row.get("ci_low")), "ci_high": _plain(row.get("ci_high")),
                 "higher_is_better": _plain(row.get("higher_is_better")),
                 "lcl": None, "ucl": None}
        if chart is not None and len(chart) and str(row["kpi"]) == str(charted):
            month = chart[chart["period"].astype(str) == str(entry["period"])]
            if len(month):
                entry["lcl"], entry["ucl"] = (_plain(month["lcl"].iloc[0]),
                                              _plain(month["ucl"].iloc[0]))
        out.append(entry)
    return out


def _findings(results: Mapping[int, Any]) -> list[dict]:
    diagnosis = results.get(5)
    fruit = diagnosis.results.get("fruit") if diagnosis is not None else None
    if fruit is None:
        return []
    return [{"key": finding_key(row), "area": str(row["area"]), "rank": _plain(row.get("rank")),
             "from_phase": _plain(row.get("from_phase")), "to_phase": _plain(row.get("to_phase")),
             "attribute": _plain(row.get("attribute")), "segment": _plain(row.get("segment"))}
            for row in fruit.table.to_dict("records")]


_ACTION_FIELDS = ("action_id", "status", "start", "area", "what_code", "phase", "from_phase",
                  "to_phase", "attribute", "segment", "kpi", "rate", "expected_rate",
                  "extra_orders", "extra_orders_low", "extra_orders_high",
                  "records_needed", "inflow_per_month", "window_days", "judge_by")


def _actions(results: Mapping[int, Any]) -> list[dict]:
    improvement = results.get(6)
    plan = improvement.results.get("action_plan") if improvement is not None else None
    if plan is None:
        return []
    return [{name: _plain(row.get(name)) for name in _ACTION_FIELDS}
            for row in plan.table.to_dict("records")]


# `results`: {step: StepResult} of toolkit.steps, a layer above this one (so Any here)
@shared_docs
def run_state(engagement: Engagement, results: Mapping[int, Any], *, evaluations: pd.DataFrame | None = None,
              run_at: dt.datetime | None = None) -> dict:
    """The state of one run: what a later run compares against.

    Parameters
    ----------
    {shared.engagement}
    {shared.results}
    evaluations : DataFrame, optional
        The started actions' evaluations of this run
        (:func:`toolkit.analysis.since.evaluate_actions`), kept so ``funnel compare`` shows
        them without the export.
    run_at : datetime, optional
        When the run was made; default now.

    Returns
    -------
    dict
        ``as_of``, ``run_at``, ``scorecard``, ``findings``, ``actions``, ``evaluations`` and
        ``records`` (each record's code and the hash chain of its history), with the schema
        version: the module docstring describes each.
    """
    as_of = pd.Timestamp(engagement.as_of) if getattr(engagement, "dated", True) else None
    state = {
        "schema": "funnel-run-state", "version": SCHEMA_VERSION,
        "engagement": str(engagement.name),
        "as_of": None if as_of is None else as_of.isoformat(),
        "run_at": (run_at or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds"),
        "scorecard": _scorecard(results),
        "findings": _findings(results),
        "actions": _actions(results),
        "evaluations": ([] if evaluations is None else
                        [{k: _plain(v) for k, v in row.items()}
                         for row in evaluations.to_dict("records")]),
        "records": record_chains(engagement) if getattr(engagement, "dated", True) else {},
    }
    return state


def write_run_state(folder: str | Path, state: dict) -> Path:
    """Write `state` as ``run-state.json.gz`` into `folder`.

    Byte for byte the same for the same state: the gzip header carries no time.

    Parameters
    ----------
    folder : str or Path
        The report folder.
    state : dict
        What :func:`run_state` returned.

    Returns
    -------
    Path
        The file written.
    """
    path = Path(folder) / STATE_FILE
    data = json.dumps(state, separators=(",", ":"), sort_keys=True).encode("utf-8")
    path.write_bytes(gzip.compress(data, mtime=0))
    return path


def read_run_state(folder: str | Path) -> dict:
    """The run state of a report folder (or of the state file itself).

    Parameters
    ----------
    folder : str or Path
        A report folder, or its ``run-state.json.gz``.

    Returns
    -------
    dict
        The state (:func:`run_state`).

    Raises
    ------
    ConfigError
        A folder without one, a file that is no run state or cannot be read, and a state of
        an unknown schema version, each with the fix.
    """
    path = Path(folder)
    if path.is_dir():
        path = path / STATE_FILE
    if not path.is_file():
        raise ConfigError("this report folder holds no run state, so there is nothing to compare "
                          "against", file=str(path),
                          fix="pass the folder of a report that `funnel run` of this version "
                              "wrote (it holds run-state.json.gz), or rerun that report")
    try:
        state = json.loads(gzip.decompress(path.read_bytes()).decode("utf-8"))
    except (OSError, EOFError, ValueError) as error:
        raise ConfigError(f"the run state cannot be read ({error.__class__.__name__})",
                          file=str(path), fix="rerun that report to write a new one") from None
    if not isinstance(state, dict) or state.get("schema") != "funnel-run-state":
        raise ConfigError("this file is no run state of the toolkit", file=str(path),
                          fix="pass the folder of a report that `funnel run` wrote")
    version = state.get("version")
    if version != SCHEMA_VERSION:
        raise ConfigError(f"the run state has schema version {version!r}; this toolkit reads "
                          f"version {SCHEMA_VERSION} only", file=str(path), key="version",
                          value=version,
                          fix="rerun the earlier report with this version of the toolkit, or "
                              "compare with the toolkit version that wrote it")
    return state


def cutoff_minute(state: dict) -> int | None:
    """The state's as-of date as minutes since 1970 (None without one)."""
    return _as_minute(state.get("as_of"))
