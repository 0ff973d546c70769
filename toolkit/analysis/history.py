"""The report history of an engagement: one line per run, and the scorecard's trend over runs.

Every ``funnel run`` appends one line to ``report-history.csv`` in the parent folder of its report
folder (by default ``reports/<engagement>/``, the folder that holds one report folder per date):
the as-of date, the run time, the report folder's name, and per scorecard KPI its value and the
month it refers to (columns ``<kpi>`` and ``<kpi> month``). A KPI that a run did not have is
empty on that run's line (missing, never 0). :func:`scorecard_trend` reads it back as one row per
run and KPI with the difference to the run before.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from toolkit.base.exceptions import ConfigError

__all__ = ["HISTORY_FILE", "history_path", "append_history", "read_history", "scorecard_trend"]

#: The report history's file name, in the parent folder of the report folders.
HISTORY_FILE = "report-history.csv"

_FIXED = ["as_of", "run_at", "report"]
_MONTH = " month"


def history_path(report_folder: str | Path) -> Path:
    """Where the report history of a report folder is kept: beside it, in its parent.

    Parameters
    ----------
    report_folder : str or Path
        The report folder.

    Returns
    -------
    Path
        ``report-history.csv`` in the folder's parent.
    """
    return Path(report_folder).resolve().parent / HISTORY_FILE


def _line(state: dict, report: str) -> dict:
    line = {"as_of": state.get("as_of"), "run_at": state.get("run_at"), "report": report}
    for row in state.get("scorecard", []):
        line[row["kpi"]] = row.get("value")
        line[row["kpi"] + _MONTH] = row.get("period")
    return line


def read_history(path: str | Path) -> pd.DataFrame:
    """The report history.

    Parameters
    ----------
    path : str or Path
        The history file (:func:`history_path`).

    Returns
    -------
    DataFrame
        One row per run; an empty frame when there is none yet.
    """
    path = Path(path)
    if not path.exists():
        return pd.DataFrame(columns=_FIXED)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError) as error:
        raise ConfigError(f"the report history cannot be read ({error.__class__.__name__})",
                          file=str(path), fix="repair the file or move it away; the next run "
                                              "starts a new one") from None
    if list(frame.columns[:3]) != _FIXED:
        raise ConfigError("this file is no report history of the toolkit", file=str(path),
                          fix=f"move it away: `funnel run` keeps its history in {HISTORY_FILE} "
                              "and starts a new one")
    return frame.replace("", None)


def append_history(path: str | Path, state: dict, *, report: str) -> Path:
    """Append the run of `state` (its as-of, run time and scorecard) as one line.

    The columns are the union of every run's KPIs, so the file is rewritten when a KPI is new.

    Parameters
    ----------
    path : str or Path
        The history file (:func:`history_path`).
    state : dict
        The run state (``toolkit.analysis.run_state.run_state``).
    report : str
        The report folder's name, written on the line.

    Returns
    -------
    Path
        The history file.
    """
    path = Path(path)
    old = read_history(path)
    line = pd.DataFrame([_line(state, report)])
    frame = pd.concat([old, line.astype(object)], ignore_index=True)
    kpis = [c for c in frame.columns if c not in _FIXED and not c.endswith(_MONTH)]
    columns = _FIXED + [name for kpi in kpis for name in (kpi, kpi + _MONTH)]
    frame.reindex(columns=columns).to_csv(path, index=False)
    return path


def scorecard_trend(history: str | Path | pd.DataFrame) -> pd.DataFrame:
    """The scorecard over runs.

    Parameters
    ----------
    history : str, Path or DataFrame
        The history file or what :func:`read_history` returned.

    Returns
    -------
    DataFrame
        ``as_of, run_at, report, kpi, period, value, change`` (the difference to the run before
        that had the KPI; missing for the first).
    """
    frame = history if isinstance(history, pd.DataFrame) else read_history(history)
    kpis = [c for c in frame.columns if c not in _FIXED and not c.endswith(_MONTH)]
    rows = []
    for kpi in kpis:
        part = frame[_FIXED].assign(kpi=kpi, period=frame.get(kpi + _MONTH),
                                    value=pd.to_numeric(frame[kpi], errors="coerce"))
        part = part[part["value"].notna()]
        part["change"] = part["value"].diff()
        rows.append(part)
    if not rows:
        return pd.DataFrame(columns=_FIXED + ["kpi", "period", "value", "change"])
    return pd.concat(rows, ignore_index=True).sort_values(["kpi", "as_of", "run_at"],
                                                          kind="stable").reset_index(drop=True)
