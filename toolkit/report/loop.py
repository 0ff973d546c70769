"""The report's part of the loop from one run to the next: the run state a run leaves in its
folder, the previous run it finds, and the page "Since the last report" (``since.html``).

Which previous run, by one rule: :func:`toolkit.analysis.previous.find_previous` (re-exported
here, with :func:`~toolkit.analysis.previous.loop_state`; the notebook of step 7 finds it by the
same rule). None found: a first run, without the page. ``funnel demo`` compares its follow-up
with its first report.
"""

from __future__ import annotations

from datetime import date as Date
from pathlib import Path
from typing import Any

from toolkit.analysis.history import append_history, history_path
from toolkit.analysis.previous import find_previous, loop_state
from toolkit.analysis.run_state import read_run_state
from toolkit.analysis.since import SinceReport
from toolkit.base.docstrings import shared_docs
from toolkit.base.exceptions import ConfigError
from toolkit.base.version import VERSION
from toolkit.present.format import formatter
from toolkit.present.since import PAGE_TITLE, since_page, since_sheet
from toolkit.present.tables import N_
from toolkit.report.render import TEMPLATES_DIR, css_string, page_environment

__all__ = ["SINCE_PAGE", "loop_state", "find_previous", "render_since", "since_sheet_for",
           "record_history"]

#: The page's file in the report folder.
SINCE_PAGE = "since.html"


def _kpi_labels(state: dict) -> dict[str, str]:
    return {row["kpi"]: row.get("label") for row in state.get("scorecard", [])
            if row.get("label")}


@shared_docs
def render_since(out_dir: str | Path, since: SinceReport, state: dict, *, language: str,
                 edition: str, date: Date | None = None, index: str = "index.html") -> Path:
    """Write ``since.html`` (the page "Since the last report") into `out_dir`.

    Parameters
    ----------
    out_dir : str or Path
        The report folder.
    since : SinceReport
        The comparison with the previous run.
    state : dict
        This run's state (``toolkit.analysis.run_state.run_state``).
    {shared.language}
    edition : str
        ``client`` or ``training``.
    date : date, optional
        The report's date; default today.
    index : str, default "index.html"
        The executive summary the page links back to.

    Returns
    -------
    Path
        The page.
    """
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
    """The workbook's sheet "Since last report" (its name in the report's language).

    Parameters
    ----------
    since : SinceReport
        The comparison with the previous run.
    state : dict
        This run's state (its currency, phase and KPI labels).
    language : str
        ``nl`` or ``en``.

    Returns
    -------
    dict of str to DataFrame
        The sheet's name -> the sheet.
    """
    fmt = formatter(language, state.get("currency") or "EUR")
    name = fmt.gettext(N_("Since last report"))
    return {name: since_sheet(since, fmt, phase_labels=state.get("phases", {}),
                              kpi_labels=_kpi_labels(state))}


def record_history(final: str | Path) -> Path | None:
    """Append the run of the report folder `final` (its run state) to the engagement's report
    history beside it.

    Parameters
    ----------
    final : str or Path
        The finished report folder.

    Returns
    -------
    Path or None
        The history file; None for a folder without a state, or a history that cannot be
        written (no reason to fail the report).
    """
    try:
        state = read_run_state(final)
        return append_history(history_path(final), state, report=Path(final).name)
    except (OSError, ConfigError):
        return None
