"""The report history of an engagement: one line per run, and the scorecard's trend over runs.

Every ``funnel run`` appends one line to ``report-history.csv`` in the parent folder of its report
folder (by default ``reports/<engagement>/``, the folder that holds one report folder per date):
the as-of date, the run time, the report folder's name, and per scorecard KPI its value, the
month it refers to, the records it counts and its 95% interval (columns ``<kpi>``,
``<kpi> month``, ``<kpi> n``, ``<kpi> low``, ``<kpi> high``). A KPI that a run did not have is
empty on that run's line (missing, never 0); so are the count and interval in a history written
before they were kept. :func:`scorecard_trend` reads it back as one row per run and KPI with the
difference to the run before; :func:`trend_with` adds a run that is not in the file yet (the
run whose report is being written).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from toolkit.base.exceptions import ConfigError

__all__ = ["HISTORY_FILE", "history_path", "append_history", "read_history", "scorecard_trend",
           "trend_with", "TREND_COLUMNS"]

#: The report history's file name, in the parent folder of the report folders.
HISTORY_FILE = "report-history.csv"

_FIXED = ["as_of", "run_at", "report"]
_MONTH = " month"
# per KPI, beside its value: the column suffix and the scorecard row's field it keeps
_BESIDE = {_MONTH: "period", " n": "trials", " low": "ci_low", " high": "ci_high"}
_NUMBERS = {" n": "trials", " low": "ci_low", " high": "ci_high"}

#: The columns of :func:`scorecard_trend`.
TREND_COLUMNS = (*_FIXED, "kpi", "period", "value", "trials", "ci_low", "ci_high", "change")


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
        for suffix, field in _BESIDE.items():
            line[row["kpi"] + suffix] = row.get(field)
        if isinstance(row.get("trials"), float) and row["trials"].is_integer():
            line[row["kpi"] + " n"] = int(row["trials"])  # a count reads 100, not 100.0
    return line


def _kpis(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns
            if c not in _FIXED and not any(c.endswith(suffix) for suffix in _BESIDE)]


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
    columns = _FIXED + [name for kpi in _kpis(frame)
                        for name in (kpi, *(kpi + suffix for suffix in _BESIDE))]
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
        :data:`TREND_COLUMNS`: ``as_of, run_at, report, kpi, period, value, trials, ci_low,
        ci_high, change`` (the difference to the run before that had the KPI; missing for the
        first). Count and interval are missing where the history did not keep them.
    """
    frame = history if isinstance(history, pd.DataFrame) else read_history(history)
    rows = []
    for kpi in _kpis(frame):
        part = frame[_FIXED].assign(kpi=kpi, period=frame.get(kpi + _MONTH),
                                    value=pd.to_numeric(frame[kpi], errors="coerce"))
        for suffix, field in _NUMBERS.items():
            kept = frame.get(kpi + suffix)
            part[field] = (pd.to_numeric(kept, errors="coerce") if kept is not None
                           else float("nan"))
        part = part[part["value"].notna()]
        part["change"] = part["value"].diff()
        rows.append(part)
    if not rows:
        return pd.DataFrame(columns=list(TREND_COLUMNS))
    return pd.concat(rows, ignore_index=True).sort_values(["kpi", "as_of", "run_at"],
                                                          kind="stable").reset_index(drop=True)


def trend_with(history: pd.DataFrame, states: list[tuple[dict, str]]) -> pd.DataFrame:
    """:func:`scorecard_trend` of `history` with the runs it does not hold yet.

    Parameters
    ----------
    history : DataFrame
        The report history (:func:`read_history`), possibly empty.
    states : list of (dict, str)
        Run states with their report folder's name: the previous run found elsewhere
        (``--since``) and the run whose report is being written (it is appended to the file after
        its report is made). A run the history holds already (the same as-of date and run time)
        is not added twice.

    Returns
    -------
    DataFrame
        :data:`TREND_COLUMNS`, as :func:`scorecard_trend`.
    """
    frame = history.copy()
    for state, report in states:
        line = pd.DataFrame([_line(state, report)]).astype(object)
        seen = ((frame["as_of"].astype(str) == str(line["as_of"].iloc[0]))
                & (frame["run_at"].astype(str) == str(line["run_at"].iloc[0])))
        if len(frame) and seen.any():
            continue
        frame = pd.concat([frame, line], ignore_index=True) if len(frame) else line
    return scorecard_trend(frame)
