"""The report's part of the loop from one run to the next: the run state a run leaves in its
folder, the previous run it finds, and the page "Since the last report" (``since.html``).

Which previous run, by one rule (:func:`find_previous`): ``--since FOLDER`` when given; else the
run state already in the ``--out`` folder (a rerun into the same folder compares with what that
folder held); else, among the sibling folders of ``--out`` (by default
``reports/<engagement>/<date>/``, one folder per run), the report of the same engagement whose
run state was written last, among those measured up to this run's as-of date. None found: a
first run, without the page. ``funnel demo`` compares its follow-up with its first report.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date as Date
from pathlib import Path
from typing import Any

import pandas as pd

from toolkit.analysis.action_plan import read_plan_file
from toolkit.analysis.history import append_history, history_path
from toolkit.analysis.run_state import STATE_FILE, read_run_state, run_state
from toolkit.analysis.since import SinceReport, evaluate_actions, restated_ids, since_last_report
from toolkit.base.exceptions import ConfigError
from toolkit.base.version import VERSION
from toolkit.io.engagement import Engagement
from toolkit.present.format import formatter
from toolkit.present.since import PAGE_TITLE, since_page, since_sheet
from toolkit.present.tables import N_
from toolkit.report.render import TEMPLATES_DIR, css_string, page_environment

__all__ = ["SINCE_PAGE", "loop_state", "find_previous", "render_since", "since_sheet_for",
           "record_history"]

#: The page's file in the report folder.
SINCE_PAGE = "since.html"


def loop_state(engagement: Engagement, results: Mapping[int, Any], previous: dict | None
               ) -> tuple[dict, SinceReport | None]:
    """This run's state (with its started actions evaluated, the records the previous run saw
    otherwise left out) and, given the previous run's state, the comparison with it."""
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
    since = since_last_report(previous, state) if previous is not None else None
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
    """The previous run's state and folder by the module's rule (None: a first run). A folder
    given with ``--since`` that holds no readable state is refused (ConfigError with the fix).
    `as_of`: this run's as-of date; a sibling measured later is no previous run."""
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


def _kpi_labels(state: dict) -> dict[str, str]:
    return {row["kpi"]: row.get("label") for row in state.get("scorecard", [])
            if row.get("label")}


def render_since(out_dir: str | Path, since: SinceReport, state: dict, *, language: str,
                 edition: str, date: Date | None = None, index: str = "index.html") -> Path:
    """Write ``since.html`` (the page "Since the last report") into `out_dir`; `index`: the
    executive summary it links back to."""
    from markupsafe import Markup

    fmt = formatter(language, state.get("currency") or "EUR")
    page = since_page(since, fmt, phase_labels=state.get("phases", {}),
                      kpi_labels=_kpi_labels(state))
    shown_date = fmt.date(date or Date.today(), length="long")
    client = str(state.get("client") or state.get("engagement") or "")
    env = page_environment(language)
    text = env.get_template("report_since.html.j2").render(
        css=Markup((TEMPLATES_DIR / "report.css").read_text(encoding="utf-8")),
        language=language, edition=edition, client=client, title=fmt.gettext(PAGE_TITLE),
        date=shown_date, page=page, index=index,
        footer=fmt.gettext("funnel-toolkit {version} · {date} · manifest.json holds the "
                           "versions and file hashes to reproduce this report.").format(
            version=VERSION, date=shown_date),
        print_header=Markup(css_string(f"{client} · {shown_date}")),
        page_label=Markup(css_string(fmt.gettext("Page"))),
        of_label=Markup(css_string(fmt.gettext("of"))))
    path = Path(out_dir) / SINCE_PAGE
    path.write_text(text, encoding="utf-8")
    return path


def since_sheet_for(since: SinceReport, state: dict, language: str) -> dict[str, Any]:
    """The workbook's sheet "Since last report" (its name in the report's language)."""
    fmt = formatter(language, state.get("currency") or "EUR")
    name = fmt.gettext(N_("Since last report"))
    return {name: since_sheet(since, fmt, phase_labels=state.get("phases", {}),
                              kpi_labels=_kpi_labels(state))}


def record_history(final: str | Path) -> Path | None:
    """Append the run of the report folder `final` (its run state) to the engagement's report
    history beside it; a folder without a state, or one that cannot be written, is no reason to
    fail the report (None)."""
    try:
        state = read_run_state(final)
        return append_history(history_path(final), state, report=Path(final).name)
    except (OSError, ConfigError):
        return None
