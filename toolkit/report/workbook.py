"""The Excel workbook a board member opens, and the single tables `funnel kpis --out` writes: the
sheets of the step results, headers in the engagement's language, no cell a formula."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from toolkit.base.docstrings import shared_docs
from toolkit.base.exceptions import OptionError, ToolkitError
from toolkit.base.version import VERSION as __version__
from toolkit.io.engagement import Engagement
from toolkit.present.format import Formatter, formatter, is_missing
from toolkit.present.problems import is_coded, problem_text
from toolkit.present.tables import attribute_headers
from toolkit.report.pages import STEP_TITLES
from toolkit.report.render import kpi_fields
from toolkit.report.sheets import ABOUT, PASSED_IN, header, in_language, sheet_name
from toolkit.steps import StepResult, open_engagement, run_all
from toolkit.steps.parts import part_name

if TYPE_CHECKING:
    from openpyxl.worksheet.worksheet import Worksheet

#: Sheets every workbook has, in this order (extra sheets go after `Funnel`).
REQUIRED_SHEETS = ("Scorecard", "KPIs", "Funnel", "Quarantine", "Reconciliation")

_COUNT_COLUMNS = {"n", "successes", "reached", "open", "lost", "immature_n", "open_n", "rows_in",
                  "rows_used", "rows_quarantined", "source_row", "cumulative_n", "count",
                  "moved_n"}
_P_COLUMNS = {"p_value", "p_adjusted", "trend_p_value", "p_pooled", "p_within"}
# Shares (or differences of shares) whose names say so in no other way.
_SHARE_COLUMNS = {"mix_effect", "stall_quantile"}
# For KPI-shaped frames (with a `unit` column) these are shares on the rows whose unit is '%'.
_KPI_VALUE_COLUMNS = ("value", "ci_low", "ci_high", "target", "previous_value", "change")
_SHEET_NAME = re.compile(r"^[^\[\]:*?/\\]{1,31}$")


def _is_percent_column(name: str, columns: Sequence[str]) -> bool:
    """Whether a column holds shares (0-1) shown as %: `rate`, `*_rate`, `share`, `*_share`,
    :data:`_SHARE_COLUMNS`, and `ci_low`/`ci_high` beside a `rate` column."""
    name = str(name)
    if name in ("rate", "share") or name in _SHARE_COLUMNS or name.endswith(
            ("_rate", "_share")) or name.startswith(
            ("rate_", "share_", "cumulative_rate", "cumulative_ci_")):
        return True
    return name in ("ci_low", "ci_high") and "rate" in columns and "unit" not in columns


# A cell a spreadsheet may read as a formula (OWASP, CSV injection): `=`, `+`, `-`, `@`, a tab or a
# carriage return at the start. Values from a client file or the YAML are data, never formulas.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Characters an xlsx cannot hold (XML 1.0 forbids them; openpyxl refuses the whole workbook).
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _without_illegal(value: Any) -> Any:
    return _XML_ILLEGAL.sub("\ufffd", value) if isinstance(value, str) else value


def _text_columns(frame: pd.DataFrame) -> list:
    return [c for c in frame.columns if frame[c].dtype == object
            or isinstance(frame[c].dtype, pd.StringDtype | pd.CategoricalDtype)]


def _excel_ready(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy Excel can hold: tz-naive datetimes, plain objects for categoricals, and text without
    the control characters XML forbids (each shown as U+FFFD)."""
    frame = frame.copy()
    for column in frame.columns:
        series = frame[column]
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            frame[column] = series.dt.tz_localize(None)
        elif isinstance(series.dtype, pd.CategoricalDtype):
            frame[column] = series.astype(object).where(series.notna(), None)
    for column in _text_columns(frame):
        frame[column] = frame[column].astype(object).map(_without_illegal)
    frame.columns = [_without_illegal(c) for c in frame.columns]
    return frame


def _cells_as_text(sheet: Worksheet) -> None:
    """Every cell that would start a formula is stored as text (with Excel's quote prefix, so that
    editing the cell keeps it text): the workbook never holds a live formula from the data."""
    for row in sheet.iter_rows():
        for cell in row:
            value = cell.value
            if isinstance(value, str) and value.startswith(_FORMULA_START):
                cell.data_type = "s"
                cell.quotePrefix = True


def csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy for a CSV file: text that a spreadsheet would read as a formula gets a leading `'`
    (OWASP's advice on CSV injection), in the cells and in the header.

    Parameters
    ----------
    frame : DataFrame
        The table. Not modified.

    Returns
    -------
    DataFrame
        The safe copy.
    """
    def safe(value: Any) -> Any:
        return "'" + value if isinstance(value, str) and value.startswith(_FORMULA_START) else value
    frame = frame.copy()
    for column in _text_columns(frame):
        frame[column] = frame[column].astype(object).map(safe)
    frame.columns = [safe(str(c)) for c in frame.columns]
    return frame


_TABLE_CREATOR = "funnel-toolkit"  # the author of every table `write_table` writes as .xlsx


def write_table(frame: pd.DataFrame, out_path: str | os.PathLike, *, sheet: str = "KPIs",
                inputs: Iterable[str | os.PathLike] = ()) -> Path:
    """Write one table as `.csv` or `.xlsx`, spreadsheet-safe (no formula, no illegal character).

    The folder must exist: a typo in it should not create a tree of folders somewhere. An
    existing file is replaced only when it is a table this function wrote (same columns; for a
    workbook, its author), never one of `inputs` (the engagement's YAML and exports).

    Parameters
    ----------
    frame : DataFrame
        The table.
    out_path : str or PathLike
        The file to write, ending in ``.csv`` or ``.xlsx``.
    sheet : str, default "KPIs"
        The sheet's name in an ``.xlsx``.
    inputs : iterable of str or PathLike
        Files that must never be written over.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    ToolkitError
        Another suffix, a folder, a folder that does not exist, an input of the engagement or
        a file this function did not write: each with the fix.
    """
    out = Path(out_path)
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise OptionError(f"--out must end in .csv or .xlsx, but {out.name!r} was "
                          f"passed. Fix: name it e.g. kpis.xlsx or kpis.csv.")
    if out.is_dir():
        raise ToolkitError(f"The output {out} is a folder, not a file. Fix: give a file name "
                           f"inside it, e.g. {out / ('kpis' + suffix)}.")
    if not out.parent.is_dir():
        raise ToolkitError(f"The folder {out.parent} of the output file does not exist. Fix: "
                           f"create it first, or write the file into an existing folder.")
    _check_table_target(out, list(frame.columns), inputs)
    if suffix == ".csv":
        csv_safe(frame).to_csv(out, index=False)
        return out
    ready = _excel_ready(frame)
    with pd.ExcelWriter(out, engine="openpyxl") as writer:
        ready.to_excel(writer, sheet_name=sheet, index=False)
        _cells_as_text(writer.sheets[sheet])
        writer.book.properties.creator = _TABLE_CREATOR
    return out


def _check_table_target(out: Path, columns: list, inputs: Iterable[str | os.PathLike]) -> None:
    """Refuse to write a table over an input of the engagement or over a file the toolkit did not
    write (a client's spreadsheet that happens to have that name)."""
    real = os.path.realpath(out)
    if any(os.path.realpath(path) == real for path in inputs):
        raise ToolkitError(f"The output {out} is an input of this engagement; writing the table "
                           f"there would destroy it. Fix: pass another file name to --out, "
                           f"e.g. {out.with_name('kpis' + out.suffix.lower())}.")
    if not (out.exists() or out.is_symlink()):
        return
    if not (out.is_file() and not out.is_symlink() and _written_as_table(out, columns)):
        raise ToolkitError(f"{out} exists and is not a table the toolkit wrote, so it will not be "
                           f"overwritten. Fix: pass a new file name to --out (or move that file "
                           f"away); nothing was written.")


def _written_as_table(path: Path, columns: list) -> bool:
    """Whether `path` is a table `write_table` wrote: a CSV whose header is `columns`, or a
    workbook the toolkit is the author of."""
    import zipfile
    try:
        if path.suffix.lower() == ".csv":
            with path.open("rb") as handle:
                first = handle.readline(64 * 1024).decode("utf-8", errors="replace").rstrip("\r\n")
            return first == ",".join(map(str, columns))
        with zipfile.ZipFile(path) as book, book.open("docProps/core.xml") as core:
            return f"<dc:creator>{_TABLE_CREATOR}</dc:creator>".encode() in core.read(64 * 1024)
    except (OSError, KeyError, zipfile.BadZipFile):
        return False


#: The steps whose sheets the workbook holds: the funnel, quarantine and reconciliation of step 1,
#: the KPIs of step 4, the low-hanging fruit and segment scan of step 5, the scorecard of step 7.
WORKBOOK_STEPS = (1, 4, 5, 7)


def _about_sheet(engagement: Engagement, sheets: Sequence[str], fmt: Formatter) -> pd.DataFrame:
    as_of = (str(engagement.as_of.date()) if engagement.dated or engagement.config.as_of
             else fmt.gettext("n/a (no dates)"))
    rows = [(fmt.gettext("engagement"), engagement.name), (fmt.gettext("as of"), as_of),
            # No wall-clock time here: the same inputs give the same cells (the run's manifest.json
            # records when it was made).
            ("toolkit", f"funnel-toolkit {__version__}")]
    rows += [(fmt.gettext("sheet: {name}").format(name=sheet_name(name, fmt)),
              fmt.gettext(ABOUT.get(name, PASSED_IN))) for name in sheets]
    return pd.DataFrame(rows, columns=["item", "description"])


@shared_docs
def workbook_sheets(results: Mapping[int, StepResult]) -> dict[str, pd.DataFrame]:
    """The workbook's sheets from the step results, in the workbook's order: Scorecard (step 7),
    KPIs (step 4), Funnel (step 1), the diagnosis's sheets (step 5), Quarantine and
    Reconciliation (step 1). Nothing is computed here.

    Parameters
    ----------
    {shared.results}

    Returns
    -------
    dict of str to DataFrame
        Sheet name -> its table, in order.
    """
    given = {name: frame for step in sorted(results) for name, frame in results[step].sheets.items()}
    missing = [name for name in REQUIRED_SHEETS if name not in given]
    if missing:
        raise ToolkitError(f"The step results hold no sheet {missing}: the workbook needs the "
                           f"results of steps {list(WORKBOOK_STEPS)}, but steps {sorted(results)} "
                           f"were passed. Fix: pass toolkit.steps.run_all(engagement).")
    first = ["Scorecard", "KPIs", "Funnel"]
    last = ["Quarantine", "Reconciliation"]
    return {**{name: given[name] for name in first},
            **{name: frame for name, frame in given.items() if name not in first + last},
            **{name: given[name] for name in last}}


def write_workbook(
    engagement: Engagement,
    *,
    out_path: str | os.PathLike,
    results: Mapping[int, StepResult] | None = None,
    extra_sheets: Mapping[str, pd.DataFrame] | None = None,
    notes: Sequence[str] = (),
    language: str = "en",
) -> Path:
    """Write the engagement's tables into one readable Excel workbook.

    Parameters
    ----------
    engagement : Engagement or path of an engagement YAML
    out_path
        The ``.xlsx`` file to write (its folder is created).
    results
        The step results (``toolkit.steps.run_all``) whose sheets the workbook holds; the steps of
        :data:`WORKBOOK_STEPS` missing from them are run here.
    extra_sheets
        ``{sheet name: DataFrame}`` written after the steps' sheets. Names must be valid Excel
        sheet names and not clash with the steps' sheets. The frames are not modified.
    notes
        Notes of the run (warnings, parts a step could not compute) added to the `Notes` sheet,
        which the report's client pages point to.
    language
        ``en`` (default: the sheet names below) or ``nl``: the workbook's own sheet names, the
        column headers (in words, not the library's column names), the `About` sheet and every
        sentence in a cell, written from its code and fields, in that language
        (``toolkit.report.sheets``); numbers stay numbers, formatted alike in both languages, and
        code columns (``kpi``, ``status_code``, ``reason_code``, phase keys) keep their codes.

    Returns
    -------
    Path of the workbook.

    Notes
    -----
    Sheets (see :func:`workbook_sheets`): `Scorecard` (step 7's scorecard; a note when it cannot
    be computed, e.g. a rate target written as 40 instead of 0.4), `KPIs` (step 4), `Funnel`
    (step 1), `Low-hanging fruit`, `Segment scan` and `Notes` (step 5), `Action plan` (step 6,
    when its result is passed), the extra sheets,
    `Quarantine`, `Reconciliation` (with a `balanced` check) and `About`. Each sheet has a bold,
    frozen header with a filter and fitted column widths. Shares are shown as percentages:
    columns `rate`, `*_rate`, `share`, `cumulative_*`, `ci_low`/`ci_high` beside a `rate`, and in
    KPI frames (with a `unit` column) the value columns of the rows whose unit is '%'. Counts get
    thousands separators, p-values four decimals.
    """

    fmt = formatter(language)  # checks the language before any work
    if isinstance(engagement, str | os.PathLike):
        engagement = open_engagement(engagement)
    results = dict(results or {})
    missing = [step for step in WORKBOOK_STEPS if step not in results]
    if missing:
        results.update(run_all(engagement, steps=missing))
    own = workbook_sheets(results)
    if notes:
        earlier = own.get("Notes")
        added = pd.DataFrame({"note": list(notes)})
        own["Notes"] = (pd.concat([earlier, added], ignore_index=True).drop_duplicates()
                        .reset_index(drop=True) if earlier is not None else added)
    extra = dict(extra_sheets or {})
    for name, frame in extra.items():
        if not isinstance(name, str) or not _SHEET_NAME.match(name) or name.startswith("'"):
            raise ToolkitError(
                f"The names in `extra_sheets` must be Excel sheet names (1-31 characters, none of "
                f"[ ] : * ? / \\), but {name!r} was passed. Fix: shorten or rename the sheet.")
        taken = {s.lower() for own_name in (*own, "About")
                 for s in (own_name, sheet_name(own_name, fmt))}
        if name.lower() in taken:
            raise ToolkitError(
                f"The names in `extra_sheets` must differ from the workbook's own sheets "
                f"{[*own, 'About']}, but {name!r} was passed. Fix: rename the sheet.")
        if not isinstance(frame, pd.DataFrame):
            raise ToolkitError(
                f"The values in `extra_sheets` must be DataFrames, but sheet {name!r} got a "
                f"{type(frame).__name__}. Fix: pass the result's `summary` or the tidy frame.")

    last = {name: own.pop(name) for name in ("Quarantine", "Reconciliation")}
    sheets = {**own, **extra, **last}
    sheets["About"] = _about_sheet(engagement, list(sheets), fmt)

    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with pd.ExcelWriter(out, engine="openpyxl", datetime_format="yyyy-mm-dd hh:mm",
                        date_format="yyyy-mm-dd") as writer:
        attributes, fields = attribute_headers(engagement), kpi_fields(results)
        for name, frame in sheets.items():
            # a lead-volume finding's `rate` and `reference_rate` are entries per month, no shares
            entries = ((frame["area"].astype(str) == "volume").to_numpy()
                       if name not in extra and "area" in frame else None)
            if name not in extra:
                # the cells' sentences in the workbook's language; files by their name only (a
                # machine's folders are no business of the reader; the manifest has the paths)
                frame = in_language(frame, fmt, phases=engagement.phase_model,
                                    attributes=attributes, kpi_fields=fields)
                if "file" in frame:
                    frame = frame.assign(file=frame["file"].map(
                        lambda f: f if is_missing(f) else os.path.basename(str(f))))
            ready = _excel_ready(frame)
            shown = name if name in extra else sheet_name(name, fmt)
            ready.to_excel(writer, sheet_name=shown, index=False)
            # formatted by the library's column names, before the header row is put in words
            _format_sheet(writer.sheets[shown], ready, entries_rows=entries)
            if name not in extra:
                _headers_in(writer.sheets[shown], fmt)
            _cells_as_text(writer.sheets[shown])
    return out


def problem_notes(engagement: Engagement, results: Mapping[int, StepResult], fmt: Formatter) -> list[str]:
    """What each step could not compute and why, one note per part, in the formatter's language
    (a reason without a code keeps the library's English sentence: it is the analyst's clue)."""
    step_titles = {number: fmt.gettext(STEP_TITLES[number]) for number in STEP_TITLES}
    attributes = attribute_headers(engagement)
    notes = []
    for number, result in sorted(results.items()):
        for part, why in result.problems.items():
            # written from its code, in English too; a reason without a code keeps the library's
            # English sentence (the analyst's clue)
            reason = (problem_text(why, fmt, phases=engagement.phase_model, from_code=True,
                                   attributes=attributes)
                      if is_coded(why) else str(why))
            notes.append(fmt.gettext("Step {number} ({step}), {part} not computed: {why}").format(
                number=number, step=step_titles[number], part=part_name(part, fmt), why=reason))
    return notes


def _headers_in(sheet: Worksheet, fmt: Formatter) -> None:
    """The header row in the formatter's language, each column wide enough for its header."""
    from openpyxl.utils import get_column_letter

    for j, cell in enumerate(sheet[1], start=1):
        if cell.value is None:
            continue
        cell.value = header(cell.value, fmt)
        width = sheet.column_dimensions[get_column_letter(j)].width or 8
        sheet.column_dimensions[get_column_letter(j)].width = min(max(width, len(cell.value) + 2),
                                                                  60)


#: Share columns of the low-hanging fruit that hold entries per month on a lead-volume row.
_ENTRIES_COLUMNS = ("rate", "reference_rate")


def _format_sheet(sheet: Worksheet, frame: pd.DataFrame, *, entries_rows: np.ndarray | None = None) -> None:
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    bold = Font(bold=True)
    for cell in sheet[1]:
        cell.font = bold
        cell.alignment = Alignment(vertical="top")
    sheet.freeze_panes = "A2"
    if len(frame.columns):
        sheet.auto_filter.ref = sheet.dimensions
    columns = [str(c) for c in frame.columns]
    percent_rows = None
    if "unit" in frame.columns:
        percent_rows = (frame["unit"].astype(str) == "%").to_numpy()
    n_rows = len(frame)
    for j, column in enumerate(columns, start=1):
        series = frame.iloc[:, j - 1]
        numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
        if column in _P_COLUMNS:
            formats = np.full(n_rows, "0.0000", dtype=object)
        elif _is_percent_column(column, columns):
            formats = np.full(n_rows, "0.0%", dtype=object)
            if entries_rows is not None and column in _ENTRIES_COLUMNS:
                formats[entries_rows] = "#,##0.0"
        elif numeric:
            whole = column in _COUNT_COLUMNS or pd.api.types.is_integer_dtype(series)
            formats = np.full(n_rows, "#,##0" if whole else "#,##0.00", dtype=object)
            if percent_rows is not None and column in _KPI_VALUE_COLUMNS:
                formats[percent_rows] = "0.0%"
        else:
            formats = None
        if formats is not None:
            for i, fmt in enumerate(formats, start=2):
                sheet.cell(row=i, column=j).number_format = fmt
        sample = series.head(500)
        width = max([len(column)] + [len(_shown(v)) for v in sample])
        sheet.column_dimensions[get_column_letter(j)].width = min(max(width + 2, 8), 60)


def _shown(value: Any) -> str:
    """Roughly the text Excel shows for a value, for fitting column widths."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return ""
    if isinstance(value, float | np.floating):
        return formatter("en").number(value, 2)  # the width of '1,234.56'; no cell shows it
    if isinstance(value, pd.Timestamp | datetime):
        return "yyyy-mm-dd hh:mm"
    return str(value)


