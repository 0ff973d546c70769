"""The deliverables of an engagement run: an HTML report rendered from the step results, the Excel
workbook, a manifest to reproduce them, a browser check of the report, and on request the PDF and
the executed step notebooks.

`funnel run ENGAGEMENT.yaml --out DIR` calls :func:`build_report`, which

1. computes the seven steps once, in-process (``toolkit.steps.run_each``), each step's figures
   drawn by worker processes while the next steps compute;
2. renders ``index.html`` (the executive summary) plus one page per step from those results
   (``toolkit.report.render``), figures embedded, so the folder can be mailed or put on a share;
3. :func:`write_workbook` writes the tables a board member opens in Excel: the sheets of the step
   results;
4. :func:`write_manifest` records versions, file hashes, parameters and timings;
5. :func:`check_report` looks at every page, statically and in headless Chromium;
6. with ``--notebooks``, :func:`execute_notebooks` runs the seven step notebooks with papermill into
   ``DIR/notebooks`` (they read the run's step results); with ``--pdf``, the pages are printed to
   one PDF.

papermill and jinja2 are imported only where they are needed, so the workbook and the
manifest work in an installation without the notebook tooling.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import errno
import hashlib
import html
import itertools
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from toolkit.analysis.run_state import write_run_state
from toolkit.base.exceptions import ConfigError, OptionError, ToolkitError
from toolkit.base.paths import NOTEBOOKS_DIR, PROJECT_ROOT
from toolkit.base.version import VERSION as __version__
from toolkit.io.config import load_config
from toolkit.io.engagement import Engagement
from toolkit.present.client import for_client
from toolkit.present.format import Formatter, formatter, is_missing
from toolkit.present.problems import is_coded, problem_text
from toolkit.present.tables import attribute_headers
from toolkit.report.browser import find_browser, offline_flags, print_pdf
from toolkit.report.loop import SINCE_PAGE, loop_state, render_since, since_sheet_for
from toolkit.report.pages import STEP_TITLES
from toolkit.report.render import TEMPLATES_DIR, FigureDrawing, kpi_fields, render_report
from toolkit.report.sheets import ABOUT, PASSED_IN, header, in_language, sheet_name
from toolkit.steps import StepResult, open_engagement, run_all, run_each
from toolkit.steps.parts import part_name
from toolkit.steps.store import run_file

__all__ = [
    "TEMPLATES_DIR",
    "REQUIRED_SHEETS",
    "ExecutedNotebooks",
    "ReportCheck",
    "execute_notebooks",
    "WORKBOOK_STEPS",
    "workbook_sheets",
    "write_workbook",
    "write_table",
    "csv_safe",
    "write_manifest",
    "check_report",
    "find_browser",
    "build_report",
    "render_report",
    "print_pdf",
]

#: Sheets every workbook has, in this order (extra sheets go after `Funnel`).
REQUIRED_SHEETS = ("Scorecard", "KPIs", "Funnel", "Quarantine", "Reconciliation")

_PACKAGES = ("pandas", "numpy", "scipy", "statsmodels", "matplotlib", "seaborn", "pyarrow",
             "openpyxl", "pydantic", "pyyaml", "papermill", "nbconvert", "nbformat", "ipykernel")

_INLINE_BACKEND = "module://matplotlib_inline.backend_inline"



def _require(module: str, purpose: str):
    try:
        return __import__(module)
    except ImportError:
        raise ToolkitError(
            f"{purpose} needs the package `{module}`, which is not installed. Fix: install the "
            f"notebook tooling with `pip install -e \".[dev]\"` (or `pip install {module}`).") from None


# --------------------------------------------------------------------------------------------
# 1. Executing the step notebooks
# --------------------------------------------------------------------------------------------

class ExecutedNotebooks(list[Path]):
    """The executed notebooks, in step order, with each step's wall time in seconds.

    A plain list of paths that also carries ``timings``:
    ``{notebook file name: seconds}``, kernel start included (pass it to :func:`write_manifest`).
    """

    def __init__(self, paths: Iterable[Path] = (), timings: Mapping[str, float] | None = None
                 ) -> None:
        super().__init__(paths)
        self.timings: dict[str, float] = dict(timings or {})


def _find_notebook(step: int, notebooks_dir: Path) -> Path:
    if isinstance(step, bool) or not isinstance(step, int | np.integer) or not 1 <= step <= 99:
        raise OptionError(f"The value for `steps` must hold step numbers from 1 to 99, but {step!r} "
                           f"was passed.")
    found = sorted(notebooks_dir.glob(f"{int(step):02d}_*.ipynb"))
    if len(found) != 1:
        have = sorted(p.name for p in notebooks_dir.glob("[0-9][0-9]_*.ipynb"))
        what = "no notebook" if not found else f"{len(found)} notebooks ({[p.name for p in found]})"
        raise ToolkitError(
            f"Step {step} has {what} named `{int(step):02d}_*.ipynb` in {notebooks_dir} (found: "
            f"{have}). Fix: keep exactly one notebook per step number there, or pass `steps=` "
            f"with the steps that exist.")
    return found[0]


def _check_kernel(kernel_name: str) -> None:
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    manager = KernelSpecManager()
    try:
        manager.get_kernel_spec(kernel_name)
    except NoSuchKernel:
        have = sorted(manager.find_kernel_specs())
        raise OptionError(
            f"The value for `kernel_name` must be an installed Jupyter kernel {have}, but "
            f"{kernel_name!r} was passed. Fix: install ipykernel and register it with "
            f"`{sys.executable} -m ipykernel install --sys-prefix`, or pass one of {have}."
        ) from None


@contextlib.contextmanager
def _inline_backend() -> Iterator[None]:
    """Let the kernels draw inline figures even when the caller's shell sets MPLBACKEND=Agg.

    ipykernel only picks its inline backend when MPLBACKEND is unset, and the kernel inherits our
    environment; a headless CI that exports Agg would otherwise give a report without figures.
    """
    old = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = _INLINE_BACKEND
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("MPLBACKEND", None)
        else:
            os.environ["MPLBACKEND"] = old


def _quiet_kernel_manager() -> type:
    """A kernel manager whose kernels write their own log nowhere.

    A kernel's stderr is inherited from `funnel run`'s terminal, and ipykernel logs some things
    past `log_level` (tornado's "Uncaught exception in ZMQStream callback" with a traceback when a
    shutdown request races the control channel): a CLI user would read a Python traceback after a
    run that succeeded. Cell errors and outputs travel over the kernel protocol, not stderr, so
    nothing a step says is lost.
    """
    from jupyter_client import AsyncKernelManager

    class QuietKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kw: Any) -> None:
            kw.setdefault("stderr", subprocess.DEVNULL)
            await super().start_kernel(**kw)

    return QuietKernelManager


def execute_notebooks(
    engagement_path: str | os.PathLike,
    *,
    out_dir: str | os.PathLike,
    steps: Iterable[int] = range(1, 8),
    notebooks_dir: str | os.PathLike = NOTEBOOKS_DIR,
    progress: bool = True,
    kernel_name: str = "python3",
    run: str = "",
) -> ExecutedNotebooks:
    """Execute the step notebooks for one engagement with papermill.

    Parameters
    ----------
    engagement_path
        The engagement YAML. Passed to each notebook as its ``engagement`` parameter, made
        absolute because the notebooks run with the notebooks folder as working directory.
    out_dir
        The run's output folder; the executed notebooks go to ``out_dir/notebooks/``.
    steps
        Step numbers to run; step ``k`` is the one notebook named ``kk_*.ipynb``.
    notebooks_dir
        Where the step notebooks are (default: the project's ``notebooks/``).
    progress
        Show a progress bar over the steps.
    kernel_name
        The Jupyter kernel to run them in.
    run
        The file of a `funnel run`'s step results (``toolkit.steps.store.run_file``), passed to
        each notebook as its ``run`` parameter: its step calls return those results instead of
        computing them again. Empty: each notebook computes its step.

    Returns
    -------
    ExecutedNotebooks
        The executed notebook paths in step order, with ``.timings`` (seconds per notebook).

    Raises
    ------
    ToolkitError
        When a step has no notebook, the kernel is not installed, or a notebook fails: the message
        names the notebook, the cell and the error, and where the executed notebook is. Later
        steps are not run, since each builds on the ones before.
    """
    pm = _require("papermill", "Executing the step notebooks")
    _require("ipykernel", "Executing the step notebooks")
    from papermill.exceptions import PapermillExecutionError
    from tqdm.auto import tqdm

    engagement = Path(engagement_path).resolve()
    if not engagement.is_file():
        raise ConfigError("engagement file not found", file=str(engagement),
                          fix="check the path, or create one with `funnel new NAME`")
    notebooks_dir = Path(notebooks_dir).resolve()
    if not notebooks_dir.is_dir():
        raise OptionError(f"The value for `notebooks_dir` must be a folder with the step notebooks, "
                           f"but {str(notebooks_dir)!r} does not exist.")
    # Find every notebook before running any, so a missing step fails in a second, not after six.
    inputs = [_find_notebook(step, notebooks_dir) for step in steps]
    _check_kernel(kernel_name)
    target = Path(out_dir).resolve() / "notebooks"
    target.mkdir(parents=True, exist_ok=True)

    executed = ExecutedNotebooks()
    with _inline_backend(), tqdm(total=len(inputs), desc="notebooks", unit="step",
                                 disable=not progress) as bar:
        for source in inputs:
            bar.set_postfix_str(source.name)
            output = target / source.name
            start = time.perf_counter()
            try:
                pm.execute_notebook(
                    str(source), str(output), parameters={"engagement": str(engagement), "run": run},
                    kernel_name=kernel_name, cwd=str(notebooks_dir), progress_bar=False,
                    log_output=False, start_timeout=120,
                    # The kernel's own log (e.g. "running over TCP without encryption" on a
                    # local kernel) is not for a CLI user: `funnel run` prints progress and
                    # results only; a failed cell still raises with its cell and error.
                    extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
                    kernel_manager_class=_quiet_kernel_manager())
            except PapermillExecutionError as exc:
                first_line = next((line for line in (exc.source or "").splitlines() if line.strip()),
                                  "")
                raise ToolkitError(
                    f"Step notebook {source.name} failed in cell In [{exc.exec_count}] "
                    f"(`{first_line.strip()[:80]}`): {exc.ename}: {exc.evalue}. Fix: open the executed "
                    f"notebook at {output} to see the cell and its traceback, correct the cause (often "
                    f"the engagement YAML or its data: {engagement}) and run again.") from exc
            except Exception as exc:
                raise ToolkitError(
                    f"Step notebook {source.name} could not be executed: {type(exc).__name__}: {exc}. "
                    f"Fix: open the executed notebook at {output} (if it was written) and check "
                    f"that the kernel {kernel_name!r} starts (`jupyter kernelspec list`).") from exc
            executed.append(output)
            executed.timings[source.name] = round(time.perf_counter() - start, 3)
            bar.update(1)
    return executed


# --------------------------------------------------------------------------------------------
# 3. The Excel workbook
# --------------------------------------------------------------------------------------------

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


def _cells_as_text(sheet) -> None:
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
    (OWASP's advice on CSV injection), in the cells and in the header."""
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
    workbook, its author), never one of `inputs` (the engagement's YAML and exports)."""
    out = Path(out_path)
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise ToolkitError(f"--out must end in .csv or .xlsx, but {out.name!r} was "
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


def _about_sheet(engagement, sheets: Sequence[str], fmt: Formatter) -> pd.DataFrame:
    as_of = (str(engagement.as_of.date()) if engagement.dated or engagement.config.as_of
             else fmt.gettext("n/a (no dates)"))
    rows = [(fmt.gettext("engagement"), engagement.name), (fmt.gettext("as of"), as_of),
            # No wall-clock time here: the same inputs give the same cells (the run's manifest.json
            # records when it was made).
            ("toolkit", f"funnel-toolkit {__version__}")]
    rows += [(fmt.gettext("sheet: {name}").format(name=sheet_name(name, fmt)),
              fmt.gettext(ABOUT.get(name, PASSED_IN))) for name in sheets]
    return pd.DataFrame(rows, columns=["item", "description"])


def workbook_sheets(results: Mapping[int, StepResult]) -> dict[str, pd.DataFrame]:
    """The workbook's sheets from the step results, in the workbook's order: Scorecard (step 7),
    KPIs (step 4), Funnel (step 1), the diagnosis's sheets (step 5), Quarantine and Reconciliation
    (step 1). Nothing is computed here."""
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
    engagement,
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


def problem_notes(engagement, results: Mapping[int, StepResult], fmt: Formatter) -> list[str]:
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


def _headers_in(sheet, fmt: Formatter) -> None:
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


def _format_sheet(sheet, frame: pd.DataFrame, *, entries_rows: np.ndarray | None = None) -> None:
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
        return f"{value:,.2f}"
    if isinstance(value, pd.Timestamp | datetime):
        return "yyyy-mm-dd hh:mm"
    return str(value)


# --------------------------------------------------------------------------------------------
# 4. The manifest
# --------------------------------------------------------------------------------------------

def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _file_entry(path: Path, base: Path | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"path": str(path)}
    if base is not None:
        with contextlib.suppress(ValueError):
            entry["relative_path"] = path.relative_to(base).as_posix()
    if path.is_file():
        entry.update({"sha256": _sha256(path), "size": path.stat().st_size, "exists": True})
    else:
        entry.update({"sha256": None, "size": None, "exists": False})
    return entry


def _input_entry(path: Path, base: Path, read: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    if str(path) not in read:
        return _file_entry(path, base)
    entry: dict[str, Any] = {"path": str(path)}
    with contextlib.suppress(ValueError):
        entry["relative_path"] = path.relative_to(base).as_posix()
    entry.update({"sha256": read[str(path)]["sha256"], "size": read[str(path)]["size"],
                  "exists": True})
    return entry


def _package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _git_state() -> dict[str, Any]:
    """The toolkit checkout's commit and whether its code differs from it (None outside git)."""
    if not (PROJECT_ROOT / ".git").exists() or shutil.which("git") is None:
        return {"commit": None, "dirty": None}
    try:
        commit = subprocess.run(["git", "-C", str(PROJECT_ROOT), "rev-parse", "HEAD"],
                                capture_output=True, text=True, timeout=20, check=True).stdout.strip()
        status = subprocess.run(["git", "-C", str(PROJECT_ROOT), "status", "--porcelain", "--",
                                 "toolkit", "notebooks"],
                                capture_output=True, text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": bool(status.strip())}


def write_manifest(
    out_dir: str | os.PathLike,
    *,
    engagement_path: str | os.PathLike,
    parameters: Mapping[str, Any] | None = None,
    timings: Mapping[str, float] | None = None,
    inputs: Sequence[Mapping[str, Any]] | None = None,
    problems: Mapping[int, Sequence[str]] | None = None,
) -> Path:
    """Write ``out_dir/manifest.json``: everything needed to reproduce the run.

    Parameters
    ----------
    out_dir
        The run's output folder.
    engagement_path
        The engagement YAML the run used.
    parameters
        The run's parameters (e.g. the notebook parameters and CLI options); stored as given,
        values that are not JSON turned into strings.
    timings
        Seconds per step, e.g. ``ExecutedNotebooks.timings``.
    problems
        Per step the parts it could not compute (the keys of ``StepResult.problems``; the
        reasons are in the report), so a reader of the manifest sees what the run lacked.

    Returns
    -------
    Path of ``manifest.json``.

    Notes
    -----
    Holds the toolkit version and git commit (with a `dirty` flag when ``toolkit/`` or
    ``notebooks/`` differ from it), Python and key package versions, the creation time (UTC), the
    engagement YAML's sha256 and size, every source file's path (also relative to the YAML), sha256
    and size, the parameters, the step timings, and the sha256 of every file already in
    ``out_dir``. A source that is missing is recorded with ``exists: false`` rather than failing,
    so the manifest still says what was expected.
    """

    yaml_path = Path(engagement_path).resolve()
    config = load_config(yaml_path)  # names the file and the fix when it is missing or wrong
    sources = Engagement(config, path=yaml_path, use_cache=False).source_files()
    # The hashes of the bytes the run read (Engagement.input_files): hashing the files again now
    # would describe a file that changed since, not the data in the report.
    read = {entry["path"]: entry for entry in inputs or ()}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "manifest.json"
    # Outputs by their place in the folder only: the folder is built elsewhere and moved into place.
    outputs = [{k: v for k, v in _file_entry(p, out).items() if k != "path"}
               for p in sorted(out.rglob("*"))
               if p.is_file() and p != manifest_path and p.name != _RUN_MARKER]
    manifest = {
        "toolkit": {"name": "funnel-toolkit", "version": __version__, **_git_state()},
        "python": {"version": platform.python_version(),
                   "implementation": platform.python_implementation(),
                   "executable": sys.executable},
        "platform": platform.platform(),
        "packages": _package_versions(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "engagement": {"name": config.name, **_file_entry(yaml_path)},
        "sources": [_input_entry(p, yaml_path.parent, read) for p in sources],
        "parameters": dict(parameters or {}),
        "timings": {str(k): float(v) for k, v in (timings or {}).items()},
        "problems": {str(k): list(v) for k, v in (problems or {}).items()},
        "outputs": outputs,
    }
    manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n",
                             encoding="utf-8")
    return manifest_path


# --------------------------------------------------------------------------------------------
# 5. Checking the report
# --------------------------------------------------------------------------------------------

@dataclass
class ReportCheck:
    """What :func:`check_report` found.

    Attributes
    ----------
    pages : the HTML files checked (index first)
    images : the number of ``<img>`` elements over all pages
    problems : one sentence per problem (page: what); empty when the report is fine
    screenshots : the screenshots kept (index first); empty when none were asked for or taken
    screenshot_skipped : why no browser check ran, or None when it did
    """

    pages: list[Path]
    images: int
    problems: list[str]
    screenshots: list[Path] = field(default_factory=list)
    screenshot_skipped: str | None = None
    _rows: list[dict[str, Any]] = field(default_factory=list, repr=False)

    @property
    def ok(self) -> bool:
        """True when no problem was found (a skipped screenshot is not a problem)."""
        return not self.problems

    @property
    def pages_checked(self) -> int:
        return len(self.pages)

    @property
    def images_found(self) -> int:
        return self.images

    @property
    def summary(self) -> pd.DataFrame:
        """One row per page: `page, images, problems, screenshot`."""
        return pd.DataFrame(self._rows, columns=["page", "images", "problems", "screenshot"])

    def _repr_html_(self) -> str:
        state = "no problems" if self.ok else f"{len(self.problems)} problem(s)"
        shots = (f"screenshots skipped: {html.escape(self.screenshot_skipped)}"
                 if self.screenshot_skipped else f"{len(self.screenshots)} screenshot(s)")
        items = "".join(f"<li>{html.escape(p)}</li>" for p in self.problems)
        return (f"<p><b>Report check</b>: {self.pages_checked} page(s), {self.images} image(s), "
                f"{state}; {shots}.</p>" + (f"<ul>{items}</ul>" if items else "")
                + self.summary.to_html(index=False))


# Elements a report of tables, text and PNG figures never needs; each could run or load something.
_ACTIVE_TAGS = {"script", "iframe", "frame", "frameset", "object", "embed", "applet", "base",
                "form", "link", "svg", "math", "audio", "video", "source", "track"}
_URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "poster", "background",
                   "srcset", "xlink:href", "codebase", "cite", "longdesc", "lowsrc", "ping"}


def _css_unescaped(css: str) -> str:
    """CSS text with its escapes read (`u\\72l(` is `url(`), comments removed."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)
    css = re.sub(r"\\([0-9a-fA-F]{1,6})\s?", lambda m: chr(min(int(m.group(1), 16), 0x10FFFF)),
                 css)
    return re.sub(r"\\(.)", r"\1", css)


class _PageScan(HTMLParser):
    """Collects what the static check needs from one page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.images: list[str | None] = []
        self.links: list[str] = []
        self.error_blocks = 0
        self.stderr_blocks = 0
        self.text: list[str] = []
        self.active: list[str] = []  # what could run or load something: never in a report
        self._in_head = False
        self._styles = 0
        self._style_text: list[str] | None = None  # the text of the <style> being read

    def _check_active(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Event handlers, script URLs, frames, style sheets other than the page's own, and
        anything loaded from outside the report or that is not an image of it."""
        if tag in _ACTIVE_TAGS or (tag == "meta" and any(n.lower() == "http-equiv" for n, _ in attrs)):
            self.active.append(f"a <{tag}> element")
        if tag == "style":
            self._styles += 1
            if not self._in_head or self._styles > 1:  # the template's one, in the head
                self.active.append("a <style> element besides the page's own style sheet")
            self._style_text = []
        for name, value in attrs:
            name, value = name.lower(), (value or "")
            url = re.sub(r"[\x00-\x20]+", "", value).lower()
            if name.startswith("on"):
                self.active.append(f"an event handler <{tag} {name}=...>")
            elif name in _URL_ATTRIBUTES and url.startswith(("javascript:", "vbscript:")):
                self.active.append(f"a script URL in <{tag} {name}>")
            elif name in _URL_ATTRIBUTES and url.startswith("data:"):
                if not (tag == "img" and url.startswith(("data:image/png;", "data:image/jpeg;"))):
                    self.active.append(f"a data: URL in <{tag} {name}> that is not a figure")
            elif name in _URL_ATTRIBUTES and tag != "a" and re.match(
                    r"^([a-z][a-z0-9+.-]*:|//|/|\\)", url):
                # any scheme (a browser reads `https:host` as https://host), a network path or
                # a path from the root of the disk
                self.active.append(f"<{tag} {name}> loads {value[:60]!r} from outside the report")
            elif name in _URL_ATTRIBUTES and tag != "a" and url and (
                    ".." in re.split(r"[/\\]", url.split("?")[0].split("#")[0]) or not re.search(
                        r"\.(png|jpe?g|gif|webp)$", url.split("?")[0].split("#")[0])):
                self.active.append(f"<{tag} {name}> loads {value[:60]!r}, which is not an image "
                                   f"of the report")
            elif name == "style" and re.search(r"url\(|expression\(|@import", re.sub(
                    r"[\x00-\x20]+", "", _css_unescaped(value)).lower()):
                self.active.append(f"a style on <{tag}> that loads or runs something")

    def handle_endtag(self, tag: str) -> None:
        if tag == "head":
            self._in_head = False
        elif tag == "style" and self._style_text is not None:
            css = re.sub(r"[\x00-\x20]+", "", _css_unescaped("".join(self._style_text))).lower()
            if re.search(r"url\(|@import|expression\(|behavior:|-moz-binding", css):
                self.active.append("a style sheet that loads or runs something")
            self._style_text = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "head":
            self._in_head = True
        elif tag == "body":
            self._in_head = False
        self._check_active(tag, attrs)
        attributes = dict(attrs)
        classes = set((attributes.get("class") or "").split())
        if tag == "img":
            self.images.append(attributes.get("src"))
        elif tag == "a" and attributes.get("href"):
            self.links.append(attributes["href"] or "")
        if classes & {"output_error", "jp-OutputArea-error"}:
            self.error_blocks += 1
        if "output_stderr" in classes or (
                attributes.get("data-mime-type") == "application/vnd.jupyter.stderr"):
            self.stderr_blocks += 1

    def handle_data(self, data: str) -> None:
        if self._style_text is not None:
            self._style_text.append(data)
            return
        self.text.append(data)


def _image_problem(src: str | None, page: Path) -> str | None:
    if not src or not src.strip():
        return "an <img> without a src"
    if src.startswith("data:"):
        header, _, payload = src.partition(",")
        if not payload:
            return f"an <img> with an empty data URI ({header})"
        if ";base64" in header:
            try:
                raw = base64.b64decode(payload, validate=False)
            except (binascii.Error, ValueError):
                return f"an <img> whose base64 data does not decode ({header})"
            if not raw:
                return f"an <img> with an empty image ({header})"
            if "image/png" in header and not raw.startswith(b"\x89PNG\r\n\x1a\n"):
                return "an <img> whose data is not a PNG although it says image/png"
        return None
    if re.match(r"^[a-z]+://", src, re.IGNORECASE):
        return f"an <img> loaded from outside the report ({src[:80]}): the report must be self-contained"
    if not (page.parent / src.split("#")[0].split("?")[0]).is_file():
        return f"an <img> whose file {src!r} does not exist"
    return None


def _local_link(href: str) -> str | None:
    if re.match(r"^([a-z]+:|#|//)", href, re.IGNORECASE):
        return None
    target = href.split("#")[0].split("?")[0]
    return target or None


def _screenshot(browser: str, page: Path, png: Path, *, timeout: float) -> str | None:
    """Screenshot one page; returns a problem sentence, or None when the picture is fine."""
    from PIL import Image, ImageStat

    png.parent.mkdir(parents=True, exist_ok=True)
    png.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="funnel-chromium-") as profile:
        command = [browser, *offline_flags(profile), f"--screenshot={png}",
                   "--window-size=1280,2000", page.resolve().as_uri()]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return f"Chromium took more than {timeout:g} s to render it"
        except OSError as exc:
            return f"Chromium could not start ({exc})"
    if not png.is_file() or png.stat().st_size == 0:
        tail = " ".join(done.stderr.strip().splitlines()[-2:])[:300]
        return f"Chromium wrote no screenshot (exit code {done.returncode}; {tail})"
    with Image.open(png) as image:
        spread = max(ImageStat.Stat(image.convert("L")).stddev)
    if spread < 2.0:
        return f"it renders blank in Chromium (pixel standard deviation {spread:.2f})"
    return None


def check_report(
    index_html: str | os.PathLike,
    *,
    screenshot: str | os.PathLike | None = None,
    browser: str | os.PathLike | Literal[False] | None = None,
    timeout: float = 60.0,
) -> ReportCheck:
    """Check a rendered report: statically on every page, and by eye-level screenshots.

    Parameters
    ----------
    index_html
        The report's ``index.html``; the pages it links to are checked too.
    screenshot
        Where to keep the index's screenshot (PNG); each step page's goes beside it as
        ``<stem>-<page>.png``. None takes them in a temporary folder and keeps none.
    browser
        Chromium's executable; None finds it (:func:`find_browser`); False skips the screenshots.
    timeout
        Seconds allowed per screenshot.

    Returns
    -------
    ReportCheck
        ``pages``, ``images``, ``problems`` (empty when fine), ``screenshots`` and
        ``screenshot_skipped`` (why no browser check ran, e.g. Chromium is not installed).

    Notes
    -----
    Static checks, per page: every ``<img>`` has a non-empty src that is a decodable ``data:`` URI
    (a PNG when it says so) or an existing file, never an outside address; no error output
    (class ``output_error``, or the text 'Traceback (most recent call last)'); no stderr block;
    every local link points to an existing file. The browser check screenshots each page at
    1280x2000 and calls a page blank when its grey levels vary by less than 2 (standard
    deviation), which a page with any text or figure exceeds by far.
    """
    index = Path(index_html)
    if not index.is_file():
        raise OptionError(f"The value for `index_html` must be the report's index.html, but "
                           f"{str(index)!r} does not exist. Fix: run render_report (or `funnel run`) first.")
    pages = [index]
    problems: list[str] = []
    rows: list[dict[str, Any]] = []
    images = 0
    position = 0
    while position < len(pages):
        page = pages[position]
        position += 1
        scan = _PageScan()
        scan.feed(page.read_text(encoding="utf-8"))
        page_problems = []
        for src in scan.images:
            problem = _image_problem(src, page)
            if problem:
                page_problems.append(problem)
        if scan.error_blocks:
            page_problems.append(f"{scan.error_blocks} error output(s): a cell failed")
        elif "Traceback (most recent call last)" in "".join(scan.text):
            page_problems.append("a Python traceback in the text: a cell failed")
        if scan.stderr_blocks:
            page_problems.append(f"{scan.stderr_blocks} stderr block(s) (warnings or logging)")
        for what in dict.fromkeys(scan.active):  # each kind once, in page order
            page_problems.append(f"{what}: a value from the data became markup")
        for href in scan.links:
            target = _local_link(href)
            if target is None:
                continue
            linked = (page.parent / target)
            if not linked.is_file():
                page_problems.append(f"a link to {target!r}, which does not exist")
            elif page == index and linked.suffix == ".html" and linked.resolve() not in {
                    p.resolve() for p in pages}:
                pages.append(linked)
        images += len(scan.images)
        problems += [f"{page.name}: {p}" for p in page_problems]
        rows.append({"page": page.name, "images": len(scan.images), "problems": len(page_problems),
                     "screenshot": None})

    shots: list[Path] = []
    skipped: str | None = None
    found = None if browser is False else (str(browser) if browser else find_browser())
    if browser is False:
        skipped = "screenshots not asked for (browser=False); the static check ran"
    elif found is None:
        skipped = ("Chromium was not found, so no screenshots were taken; the static check ran. "
                   "Fix: install it (apt-get install chromium)")
    else:
        with tempfile.TemporaryDirectory(prefix="funnel-shots-") as scratch:
            first = Path(screenshot) if screenshot is not None else Path(scratch) / "index.png"
            for row, page in zip(rows, pages, strict=True):
                png = first if page == index else first.with_name(f"{first.stem}-{page.stem}.png")
                problem = _screenshot(found, page, png, timeout=timeout)
                if problem:
                    problems.append(f"{page.name}: {problem}")
                elif screenshot is not None:
                    shots.append(png)
                    row["screenshot"] = str(png)
    return ReportCheck(pages=pages, images=images, problems=problems, screenshots=shots,
                       screenshot_skipped=skipped, _rows=rows)


def build_report(engagement, *, engagement_path: str | os.PathLike, out_dir: str | os.PathLike,
                 steps: Iterable[int] = range(1, 8), progress: bool = True, seed: int = 0,
                 edition: str | None = None, language: str | None = None,
                 notebooks: bool = False, pdf: bool = False,
                 results: Mapping[int, StepResult] | None = None,
                 kept: dict | None = None, previous: dict | None = None) -> dict[str, Path]:
    """The whole deliverable of `funnel run` in `out_dir`: the HTML report rendered from the step
    results, the workbook, the manifest, and on request the PDF and the executed notebooks.

    Parameters
    ----------
    engagement, engagement_path
        The loaded engagement and its YAML.
    steps, seed
        The steps whose pages (and, with `notebooks`, notebooks) are made, and the seed of the
        steps' random draws. All seven steps are computed once, in-process: the executive
        summary and the workbook draw on them.
    progress
        Show a progress bar on stderr.
    edition, language
        ``client`` or ``training`` and ``nl`` or ``en``; default the engagement's
        ``report.edition`` and ``language``.
    notebooks
        Also execute the step notebooks (kept in ``notebooks/``, the analyst's way through the
        same results); the report pages are the rendered ones either way.
    pdf
        Also print the report to one PDF with headless Chromium.
    results
        The step results of this engagement and seed when the caller has them (`funnel demo`
        printed its baseline from them); the steps missing from them are run here, once.
    kept
        A dict the step results are put in, for a caller that uses them after the report
        (`funnel run` writes the action plan file from step 6's).
    previous
        The run state of the previous run (``toolkit.report.loop.find_previous``): the report
        then gets the page "Since the last report" (``since.html``, linked on the index) and the
        workbook its sheet. Every run writes its own state (``run-state.json.gz``) into the
        folder (``funnel run`` then appends a line to the report history beside the folder:
        ``toolkit.report.loop.record_history``).

    Returns the paths under the keys `index`, `workbook`, `manifest`, and `pdf` and `notebooks`
    when made. Python warnings of the steps become notes of the report (on its index page and in
    the workbook's `Notes` sheet), not lines on the terminal.
    """
    final = Path(out_dir).resolve()
    steps = list(steps)
    _check_replaceable(final, steps)
    config = engagement.config
    edition = edition or config.report.edition
    language = language or config.language
    timings: dict[str, float] = {}
    with _run_folder(final) as out, tqdm(
            total=4 + notebooks + pdf, desc="report", unit="part", disable=not progress,
            leave=False) as bar:
        with warnings.catch_warnings(record=True) as caught, FigureDrawing(language) as drawing:
            warnings.simplefilter("always")
            # The step results once, in-process: the pages, the workbook and (with --notebooks)
            # the notebooks' step calls all show them; nothing is computed again.
            bar.set_postfix_str("steps")
            started = time.perf_counter()
            results = dict(results or {})
            missing = [step for step in range(1, 8) if step not in results]
            given = [(step, results[step]) for step in sorted(results)]
            computed = run_each(engagement, seed=seed, steps=missing) if missing else ()
            # each step's figures are drawn (in worker processes) while the next steps compute
            for step, result in itertools.chain(given, computed):
                results[step] = result
                if step in steps:
                    drawing.submit(step, result)
            timings["steps"] = round(time.perf_counter() - started, 3)
            if kept is not None:  # the caller's copy (`funnel run` writes the action plan file)
                kept.update(results)
            bar.update(1)
            executed = None
            if notebooks:
                bar.set_postfix_str("notebooks")
                with run_file(engagement, results, seed=seed) as run:
                    executed = execute_notebooks(engagement_path, out_dir=out, steps=steps,
                                                 progress=False, run=run)
                timings.update(executed.timings)
                bar.update(1)
            bar.set_postfix_str("pages")
            started = time.perf_counter()
            state, since = loop_state(engagement, results, previous)
            timings["since"] = round(time.perf_counter() - started, 3)
            notes = list(dict.fromkeys(" ".join(str(w.message).split()) for w in caught))
            index = render_report(engagement, results, out_dir=out, language=language,
                                  edition=edition, notes=notes, print_page=pdf, pages=steps,
                                  figures=drawing.collect(),
                                  since_page=SINCE_PAGE if since is not None else None)
            if since is not None:
                render_since(out, since, state, language=language, edition=edition)
            timings["pages"] = round(time.perf_counter() - started, 3)
            bar.update(1)
            _refuse_active_content(out)
            bar.set_postfix_str("workbook")
            notes = list(dict.fromkeys(" ".join(str(w.message).split()) for w in caught))
        # the run's notes and what a step could not compute (the client pages point here)
        notes += problem_notes(engagement, results, formatter(language))
        if edition == "client":  # the workbook goes to the board too: no YAML instructions
            notes = [for_client(note) for note in notes]
        workbook = write_workbook(engagement, out_path=out / f"{file_name(engagement.name)}.xlsx",
                                  results=results, notes=notes, language=language,
                                  extra_sheets=(None if since is None
                                                else since_sheet_for(since, state, language)))
        bar.update(1)
        made: dict[str, Path] = {}
        if pdf:
            bar.set_postfix_str("pdf")
            started = time.perf_counter()
            made["pdf"] = print_pdf(out / "print.html", out / f"{file_name(engagement.name)}.pdf")
            timings["pdf"] = round(time.perf_counter() - started, 3)
            bar.update(1)
        (out / "print.html").unlink(missing_ok=True)
        manifest = write_manifest(
            out, engagement_path=engagement_path, inputs=engagement.input_files or None,
            parameters={"engagement": str(engagement_path), "steps": steps, "seed": seed,
                        "edition": edition, "language": language, "notebooks": notebooks,
                        "pdf": pdf,
                        # step 6 evaluates only these (DESIGN: never a default date)
                        "changes": [c.model_dump(mode="json") for c in
                                    getattr(engagement.config, "changes", [])]},
            timings=timings,
            problems={step: sorted(result.problems) for step, result in results.items()})
        bar.update(1)
        write_run_state(out, state)  # what the next run compares with (listed in the marker)
        _write_report_marker(out, steps)
        _move_into_place(out, final, steps)
    paths = {"index": final / index.relative_to(out), "workbook": final / workbook.name,
             "manifest": final / manifest.name}
    if executed is not None:
        paths["notebooks"] = final / "notebooks"
    if "pdf" in made:
        paths["pdf"] = final / made["pdf"].name
    return paths


def _refuse_active_content(out: Path) -> None:
    """The last guard: a page holding an event handler, a script URL or a remote resource is not
    delivered (values are escaped where they meet the Markdown and the templates; this catches a
    place that was missed)."""
    for page in sorted(out.glob("*.html")):
        scan = _PageScan()
        scan.feed(page.read_text(encoding="utf-8"))
        if scan.active:
            raise ToolkitError(
                f"The rendered page {page.name} holds {scan.active[0]}: a value from the data or "
                f"the YAML became markup, so the report was not delivered (it is in {out}). This "
                f"is a bug in the toolkit; please send the page's name and that line to the "
                f"toolkit team. Fix meanwhile: remove the markup from that value.")


_RUN_MARKER = ".funnel-run"  # in `<out>.partial` while a run builds it: holds the run's lock


def file_name(name: str) -> str:
    """An engagement name as one file or folder name: letters, digits, `.`, `-` and `_` only, so a
    name such as `/abs/path` or `../x` can never point a deliverable outside the output folder."""
    cleaned = re.sub(r"[^\w.-]+", "_", str(name), flags=re.ASCII).strip("._") or "engagement"
    return cleaned[:100]


# Written by every run into its report folder, last: the files the run wrote and their sha256, and
# the steps it made pages for. Only a folder holding it is a report a later run may replace (a
# `manifest.json` alone proves nothing: anybody can copy one), and only the files it lists are the
# toolkit's: everything else in the folder is the user's and is carried into the new report.
_REPORT_MARKER = ".funnel-report"


def _write_report_marker(out: Path, steps: Sequence[int]) -> None:
    files = {path.relative_to(out).as_posix(): _sha256(path) for path in _files_in(out)
             if path.name not in (_RUN_MARKER, _REPORT_MARKER)}
    (out / _REPORT_MARKER).write_text(json.dumps(
        {"made_by": "funnel-toolkit", "steps": sorted(steps), "files": files}, indent=1) + "\n",
        encoding="utf-8")


def _files_in(folder: Path) -> list[Path]:
    """Every file under `folder`, links included as files and never followed."""
    found = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        found += [Path(root) / name for name in files]
        found += [Path(root) / name for name in dirs if (Path(root) / name).is_symlink()]
    return sorted(found)


def _report_marker(folder: Path) -> dict | None:
    """The marker of a report an earlier run wrote into `folder`, or None when it is not one."""
    marker = folder / _REPORT_MARKER
    if folder.is_symlink() or not folder.is_dir() or marker.is_symlink() or not marker.is_file():
        return None
    try:
        content = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not (isinstance(content, dict) and content.get("made_by") == "funnel-toolkit"
            and isinstance(content.get("files"), dict) and isinstance(content.get("steps"), list)):
        return None
    return content


def _is_report(folder: Path) -> bool:
    """Whether `folder` is a report an earlier `funnel run` wrote (it holds the run's marker)."""
    return _report_marker(folder) is not None


def _users_files(folder: Path, marker: dict) -> tuple[list[Path], list[Path]]:
    """The files in a report folder the toolkit did not write, and the ones it wrote that were
    changed since (a workbook edited and saved in place)."""
    added, changed = [], []
    for path in _files_in(folder):
        name = path.relative_to(folder).as_posix()
        if name == _REPORT_MARKER:
            continue
        if name not in marker["files"]:
            added.append(path)
        elif path.is_symlink() or not path.is_file() or _sha256(path) != marker["files"][name]:
            changed.append(path)
    return added, changed


def _step_list(steps: Sequence[int]) -> str:
    return ", ".join(str(step) for step in sorted(steps))


def _check_replaceable(final: Path, steps: Sequence[int] | None = None) -> None:
    """Refuse, before anything is written, an output folder (or its `.old` sibling) that is not
    a report of an earlier run: a folder the toolkit did not create is never touched. A report is
    refused too when this run would drop pages it holds (fewer steps) or a file the user changed."""
    if final.exists() and (not final.is_dir() or (any(final.iterdir()) and not _is_report(final))):
        raise ToolkitError(
            f"The output folder {final} exists and is not a report of an earlier run (it has no "
            f"{_REPORT_MARKER} marker, which every run writes), so it will not be replaced. Fix: "
            f"pass an empty or new folder as --out; nothing was written.")
    marker = _report_marker(final) if final.exists() else None
    if marker is not None:
        dropped = sorted(set(marker["steps"]) - set(steps or marker["steps"]))
        if dropped:
            raise ToolkitError(
                f"The report in {final} holds the pages of step(s) {_step_list(dropped)}, which "
                f"this run (--steps {_step_list(steps or ())}) does not make: replacing the report "
                f"would delete them. Fix: run those steps too (leave out --steps to run all "
                f"seven), or pass a new folder as --out; nothing was written.")
        changed = _users_files(final, marker)[1]
        if changed:
            names = ", ".join(str(p.relative_to(final)) for p in changed[:5])
            raise ToolkitError(
                f"{names} in {final} changed since the run that wrote it, so a new report would "
                f"overwrite your changes. Fix: move or rename the changed file(s) (files the "
                f"toolkit did not write are kept), then run again; nothing was written.")
    old = final.with_name(final.name + ".old")
    if (old.exists() or old.is_symlink()) and not _is_report(old):
        raise ToolkitError(
            f"{old} exists and is not a report of an earlier run, so it will not be touched (a "
            f"run uses that name for a moment while it replaces {final.name}). Fix: move or "
            f"rename {old}, or pass another --out; nothing was written.")


@contextlib.contextmanager
def _run_folder(final: Path) -> Iterator[Path]:
    """A fresh `<out>.partial` folder beside `final` to build the report in, locked for this run.

    Building elsewhere and moving the finished folder into place means a run that fails or is
    interrupted never leaves a half report that looks complete, nor stale pages of an older run
    next to new ones. The folder holds a marker file locked (flock) while the run lives: a second
    run on the same --out is refused instead of deleting the first one's work; the remains of a
    killed run (marker present, lock free) are cleared; a `.partial` folder without the marker was
    not made by a run and is never touched.
    """
    partial = final.with_name(final.name + ".partial")
    if partial.exists() or partial.is_symlink():
        marker = partial / _RUN_MARKER
        if partial.is_symlink() or not partial.is_dir() or not marker.is_file():
            raise ToolkitError(
                f"{partial} exists and was not made by `funnel run`, so it will not be touched. "
                f"Fix: move or rename it, or pass another --out; nothing was written.")
        with marker.open("r+", encoding="utf-8") as stale:
            if not _try_lock(stale):
                raise ToolkitError(
                    f"Another `funnel run` (process {stale.read().strip() or '?'}) is writing a "
                    f"report into {partial} now. Fix: wait until it has finished, or pass another "
                    f"--out; nothing was written.")
            shutil.rmtree(partial)  # the remains of an interrupted run
    try:
        partial.mkdir(parents=True)
    except FileExistsError:
        raise ToolkitError(f"Another `funnel run` started writing into {partial} at the same "
                           f"moment. Fix: wait until it has finished, or pass another --out."
                           ) from None
    try:
        with (partial / _RUN_MARKER).open("w", encoding="utf-8") as lock:
            _try_lock(lock)
            lock.write(f"{os.getpid()}\n")
            lock.flush()
            yield partial
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        # A full disk: the half-written report only takes the room the next try needs.
        shutil.rmtree(partial, ignore_errors=True)
        raise ToolkitError(
            f"The disk is full: the report could not be written into {partial} ({exc.strerror}"
            f"{'; ' + str(exc.filename) if exc.filename else ''}). Fix: free space on that disk, "
            f"or pass --out a folder on another disk; the half-written report was removed and "
            f"{final} was not changed.") from None


def _try_lock(handle) -> bool:
    """An exclusive, non-blocking lock on an open file; the system frees it when the process ends
    (also on kill -9), so a crashed run never blocks the next one."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; the marker file still guards the folder
        return True
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _move_into_place(partial: Path, final: Path, steps: Sequence[int] | None = None) -> None:
    """Replace the report in `final` by the complete one in `partial`: the files of the user in
    `final` (any file the earlier run did not write) are moved into the new report first, and of
    the earlier report only the files its run wrote are deleted."""
    # Two renames on one file system; an interruption between them leaves `<out>.old` (the complete
    # earlier report) and `<out>.partial` (the complete new one), never a mix of the two.
    _check_replaceable(final, steps)  # nothing appeared at those names while the steps ran
    marker = _report_marker(final) if final.exists() else None
    if marker is not None:
        added = _users_files(final, marker)[0]
        clash = [p for p in added if (partial / p.relative_to(final)).exists()
                 or (partial / p.relative_to(final)).is_symlink()]
        if clash:
            raise ToolkitError(
                f"{clash[0].relative_to(final)} in {final} is not the toolkit's, and the new "
                f"report has a file of that name. Fix: move or rename yours; the new report is "
                f"complete in {partial} and {final} was not changed.")
        for path in added:  # the user's files go with the report
            target = partial / path.relative_to(final)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
    (partial / _RUN_MARKER).unlink(missing_ok=True)
    old = final.with_name(final.name + ".old")
    if old.exists():
        _remove_report(old)
    if final.exists():
        final.rename(old)
    partial.rename(final)
    if old.exists():
        _remove_report(old)


def _remove_report(folder: Path) -> None:
    """Delete a report folder the toolkit wrote: the files its marker lists, then the folders left
    empty. A file it does not list stays, and so does its folder."""
    marker = _report_marker(folder)
    if marker is None:  # an empty folder (a run's rename left it) is all it can be here
        with contextlib.suppress(OSError):
            folder.rmdir()
        return
    for name in marker["files"]:
        parts = Path(name).parts
        if Path(name).is_absolute() or ".." in parts or not parts:
            continue  # a marker that points outside its folder was not written by a run
        path = folder / name
        if path.is_file() or path.is_symlink():
            path.unlink()
    (folder / _REPORT_MARKER).unlink(missing_ok=True)
    for root, _dirs, _files in sorted(os.walk(folder, topdown=False), reverse=True):
        with contextlib.suppress(OSError):
            Path(root).rmdir()
