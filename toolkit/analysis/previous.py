"""Which previous run a run compares with, and this run's state for the comparison (the loop from
one run to the next; the page is :mod:`toolkit.report.loop`'s, the notebook's call is
:func:`toolkit.steps.since_previous`).

Which previous run, by one rule (:func:`find_previous`): ``--since FOLDER`` when given; else the
run state already in the ``--out`` folder (a rerun into the same folder compares with what that
folder held); else, among the sibling folders of ``--out`` (by default
``reports/<engagement>/<date>/``, :func:`toolkit.base.paths.report_folder`, one folder per run),
the report of the same engagement whose run state was written last, among those measured up to
this run's as-of date. None found: a first run.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from toolkit.analysis.action_plan import read_plan_file
from toolkit.analysis.run_state import STATE_FILE, read_run_state, run_state
from toolkit.analysis.since import SinceReport, evaluate_actions, restated_ids, since_last_report
from toolkit.base.docstrings import shared_docs
from toolkit.base.exceptions import ConfigError
from toolkit.io.engagement import Engagement

__all__ = ["loop_state", "find_previous"]


@shared_docs
def loop_state(engagement: Engagement, results: Mapping[int, Any], previous: dict | None, *,
               history: str | Path | None = None) -> tuple[dict, SinceReport | None]:
    """This run's state and, given the previous run's state, the comparison with it.

    Parameters
    ----------
    {shared.engagement}
    {shared.results}
    previous : dict or None
        The previous run's state (:func:`find_previous`); None for a first run.
    history : str, Path or None
        The engagement's report history, for the scorecard's trend over the reports
        (:func:`toolkit.analysis.since.since_last_report`).

    Returns
    -------
    state : dict
        This run's state (``toolkit.analysis.run_state.run_state``) with its started actions
        evaluated, the records whose history the previous run saw otherwise left out.
    since : SinceReport or None
        The comparison with the previous run; None without one.
    """
    actions = _started_actions(engagement, results)
    evaluations = None
    if actions and getattr(engagement, "dated", True):
        leave_out = restated_ids(engagement, previous) if previous else set()
        predicted = ({a["action_id"]: a for a in previous.get("actions", [])}
                     if previous else None)
        evaluations = evaluate_actions(engagement, actions, leave_out=leave_out,
                                       predicted=predicted)
    state = run_state(engagement, results, evaluations=evaluations)
    state["phases"] = {p.key: p.label for p in engagement.phase_model.phases}
    state["client"] = engagement.config.client or engagement.name
    state["currency"] = engagement.config.currency
    since = (since_last_report(previous, state, history=history) if previous is not None
             else None)
    return state, since


_FROM_FILE = ("phase", "from_phase", "to_phase", "attribute", "segment", "status", "start")


def _started_actions(engagement: Engagement, results: Mapping[int, Any]) -> list[dict]:
    """The plan's actions as the consultant keeps them: the plan file's entries (an action keeps
    its id, status and start there even when this export's counts give its finding another id),
    with this run's plan row where the id is the same; without a plan file, this run's plan."""
    improvement = results.get(6)
    plan = improvement.results.get("action_plan") if improvement is not None else None
    rows = {} if plan is None else {r["action_id"]: r for r in plan.table.to_dict("records")}
    saved = read_plan_file(engagement) if getattr(engagement, "path", None) else None
    if not saved:
        return list(rows.values())
    actions = []
    for name, entry in saved.items():
        row = dict(rows.get(name, {}))
        row.update({key: entry.get(key) for key in _FROM_FILE})
        row.update(action_id=name, what_code=row.get("what_code") or name.split("-")[0])
        actions.append(row)
    return actions


def _state_of(folder: Path) -> dict | None:
    try:
        return read_run_state(folder)
    except ConfigError:
        return None


def find_previous(out: str | Path, engagement_name: str, *, since: str | Path | None = None,
                  as_of: Any = None) -> tuple[dict, Path] | None:
    """The previous run's state and folder, by the module's rule.

    Parameters
    ----------
    out : str or Path
        This run's report folder.
    engagement_name : str
        The engagement's ``name``.
    since : str or Path, optional
        A folder given with ``--since``: taken as it is.
    as_of : date-like, optional
        This run's as-of date; a sibling report measured later is no previous run.

    Returns
    -------
    tuple of (dict, Path) or None
        The previous run's state and its folder; None for a first run.

    Raises
    ------
    ConfigError
        The ``--since`` folder holds no readable run state (with the fix).
    """
    if since is not None:
        return read_run_state(since), Path(since)
    out = Path(out).resolve()
    if (out / STATE_FILE).is_file():
        state = _state_of(out)
        if state is not None and state.get("engagement") == engagement_name:
            return state, out
    parent = out.parent
    if not parent.is_dir():
        return None
    found = []
    for folder in parent.iterdir():
        if folder == out or not (folder / STATE_FILE).is_file() or folder.is_symlink():
            continue
        state = _state_of(folder)
        later = (as_of is not None and state is not None and state.get("as_of") is not None
                 and pd.Timestamp(state["as_of"]) > pd.Timestamp(as_of))
        if state is not None and state.get("engagement") == engagement_name and not later:
            found.append((str(state.get("run_at")), str(folder), state, folder))
    if not found:
        return None
    latest = max(found, key=lambda item: item[:2])
    return latest[2], latest[3]
