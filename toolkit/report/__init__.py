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

This module holds the run (:func:`build_report`); the rest has one module a job: ``render`` and
``pages`` (the HTML), ``workbook`` (the Excel workbook and single tables), ``manifest``,
``checks`` (the static and browser checks of the pages), ``folder`` (the report folder: lock,
marker, moving into place), ``notebooks`` (the executed step notebooks), ``browser`` (Chromium and
the PDF), ``consistency`` (one report, one story). Import the names from the package.
"""

from __future__ import annotations

import itertools
import os
import time
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path

from tqdm.auto import tqdm

from toolkit.analysis.history import history_path
from toolkit.analysis.run_state import write_run_state
from toolkit.io.engagement import Engagement
from toolkit.present.client import for_client
from toolkit.present.format import formatter
from toolkit.report.browser import find_browser, print_pdf
from toolkit.report.checks import ReportCheck, check_report, refuse_active_content
from toolkit.report.folder import (
    check_replaceable,
    file_name,
    move_into_place,
    run_folder,
    write_report_marker,
)
from toolkit.report.loop import SINCE_PAGE, loop_state, render_since, since_sheet_for
from toolkit.report.manifest import write_manifest
from toolkit.report.notebooks import ExecutedNotebooks, execute_notebooks
from toolkit.report.render import TEMPLATES_DIR, FigureDrawing, render_report
from toolkit.report.workbook import (
    REQUIRED_SHEETS,
    WORKBOOK_STEPS,
    csv_safe,
    problem_notes,
    workbook_sheets,
    write_table,
    write_workbook,
)
from toolkit.steps import StepResult, run_each
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


def build_report(engagement: Engagement, *, engagement_path: str | os.PathLike, out_dir: str | os.PathLike,
                 steps: Iterable[int] = range(1, 8), progress: bool = True, seed: int = 0,
                 edition: str | None = None, language: str | None = None,
                 notebooks: bool = False, pdf: bool = False,
                 results: Mapping[int, StepResult] | None = None,
                 kept: dict | None = None, previous: dict | None = None,
                 previous_dir: str | os.PathLike | None = None) -> dict[str, Path]:
    """The whole deliverable of `funnel run` in `out_dir`: the HTML report rendered from the step
    results, the workbook, the manifest, and on request the PDF and the executed notebooks.

    Parameters
    ----------
    engagement, engagement_path
        The loaded engagement and its YAML.
    out_dir
        The report folder (built in ``<out_dir>.partial`` and moved into place when complete).
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
    previous_dir
        The folder `previous` was read from: step 7's notebook compares with the same report.

    Returns
    -------
    dict of str to Path
        The paths under the keys `index`, `workbook`, `manifest`, and `pdf` and `notebooks`
        when made. Python warnings of the steps become notes of the report (on its index page
        and in the workbook's `Notes` sheet), not lines on the terminal.
    """
    final = Path(out_dir).resolve()
    steps = list(steps)
    check_replaceable(final, steps)
    config = engagement.config
    edition = edition or config.report.edition
    language = language or config.language
    timings: dict[str, float] = {}
    with run_folder(final) as out, tqdm(
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
                                                 progress=False, run=run, report_dir=final,
                                                 previous_dir=previous_dir)
                timings.update(executed.timings)
                bar.update(1)
            bar.set_postfix_str("pages")
            started = time.perf_counter()
            state, since = loop_state(engagement, results, previous,
                                      history=history_path(final))
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
            refuse_active_content(out)
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
        write_report_marker(out, steps)
        move_into_place(out, final, steps)
    paths = {"index": final / index.relative_to(out), "workbook": final / workbook.name,
             "manifest": final / manifest.name}
    if executed is not None:
        paths["notebooks"] = final / "notebooks"
    if "pdf" in made:
        paths["pdf"] = final / made["pdf"].name
    return paths


