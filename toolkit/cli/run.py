"""`funnel run`, `funnel demo`, `funnel compare` and `funnel notebooks`: the report of an
engagement, the demo with its follow-up, the page between two runs."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import cast

import pandas as pd

from toolkit import report
from toolkit.analysis.action_plan import ActionPlan, write_plan_file
from toolkit.analysis.history import history_path
from toolkit.analysis.run_state import read_run_state
from toolkit.analysis.since import since_last_report
from toolkit.base.exceptions import ToolkitError
from toolkit.base.paths import (
    DEMO_ENGAGEMENT,
    NOTEBOOK_DEFAULT,
    NOTEBOOKS_DIR,
    REPORTS_DIR,
    report_folder,
)
from toolkit.cli.kpis import format_kpis
from toolkit.cli.new import untouched_template_text
from toolkit.cli.validate import as_of_text, load_engagement
from toolkit.demo_followup import write_followup
from toolkit.io.config import load_config
from toolkit.io.engagement import Engagement
from toolkit.present.findings import render
from toolkit.present.format import formatter
from toolkit.present.messages import translations
from toolkit.report.loop import find_previous, record_history, render_since
from toolkit.report.training import translated_notebook
from toolkit.steps import StepResult, run_all


def cmd_notebooks(args: argparse.Namespace) -> int:
    path = Path(args.engagement).resolve() if args.engagement else DEMO_ENGAGEMENT
    language = args.language or load_config(path).language
    out = Path(args.out) if args.out else REPORTS_DIR / f"notebooks-{language}"
    if out.resolve() == NOTEBOOKS_DIR.resolve():
        raise ToolkitError(f"--out {out} is the notebooks' own folder, whose originals stay in "
                           f"English. Fix: give another folder.")
    out.mkdir(parents=True, exist_ok=True)
    gettext = translations(language).gettext
    written = 0
    for source in sorted(NOTEBOOKS_DIR.glob("0[1-7]_*.ipynb")):
        notebook = translated_notebook(json.loads(source.read_text(encoding="utf-8")), language,
                                       gettext)
        if args.engagement:  # the parameters cell's default: this engagement, by its full path
            for cell in notebook["cells"]:
                if "parameters" in cell.get("metadata", {}).get("tags", []):
                    cell["source"] = [line.replace(json.dumps(NOTEBOOK_DEFAULT), json.dumps(
                        str(path))) for line in cell["source"]]
        (out / source.name).write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n",
                                       encoding="utf-8")
        written += 1
    print(f"Wrote {written} notebooks in {'Dutch' if language == 'nl' else 'English'} to {out}")
    return 0


def _print_baseline(engagement: Engagement, results: Mapping[int, StepResult]) -> None:
    """The baseline funnel of step 1 and the KPI values of step 3, as a consultant reads them."""
    print(f"\n== {engagement.config.client or engagement.name}: baseline funnel "
          f"(as of {as_of_text(engagement, '%Y-%m-%d')}) ==")
    f = cast("pd.DataFrame | None", results[1].results["funnel"])  # step 1's funnel table
    if f is None:
        print(f"  no funnel: {results[1].problems.get('funnel', '')}")
    for row in f.itertuples() if f is not None else ():
        step = ("" if pd.isna(row.rate) else
                f"   step {formatter('en').interval(row.rate, row.ci_low, row.ci_high):>20s}, "
                f"open {int(row.open)}, lost {int(row.lost)}")
        print(f"  {row.label:28s} {row.reached:7d}{step}")
    print("\n== KPIs (cohort conversions: mature cohorts only; 95% intervals) ==")
    with pd.option_context("display.width", 200, "display.max_colwidth", 48):
        print(format_kpis(results[3].results["values"]).to_string(index=False))


def _print_headlines(results: Mapping[int, StepResult], language: str = "en") -> None:
    """Each step's headline in `language` (a finding written by the registry,
    ``toolkit.present.findings``), its numbers by the one formatter as the report writes them
    (a p-value reads 'p = 0.012' here, in a figure, a table and on a page)."""
    fmt = formatter(language)
    print("\n== " + fmt.gettext("What the steps found") + " ==")
    for step, result in sorted(results.items()):
        print(f"  {step}. {render(result.headline, fmt=fmt)}")


def cmd_run(args: argparse.Namespace) -> int:
    engagement = load_engagement(args.engagement)
    results: dict = {}  # the report's step results, for the action plan of step 6
    code = _run(args, engagement, kept=results)
    actions = results[6].results.get("action_plan") if 6 in results else None
    if actions is not None and code == 0:
        _write_action_plan(engagement, actions)
    return code


def _write_action_plan(engagement: Engagement, actions: ActionPlan) -> None:
    """Write plan.yaml beside the engagement YAML when absent (a plan the consultant edited keeps
    its statuses and start dates; new actions are appended). The demo's folder is the toolkit's
    own: its plan is shown, never written there. A folder that cannot be written is said, the
    report stands."""
    if engagement.path is None or Path(engagement.path).resolve() == DEMO_ENGAGEMENT.resolve():
        return  # an engagement built in memory has no folder to write a plan into
    try:
        print(f"Action plan: {write_plan_file(engagement, actions)}")
    except OSError as error:
        print(f"Warning: the action plan could not be written beside {engagement.path} "
              f"({error.strerror or error.__class__.__name__}); the report shows it. Fix: make "
              f"the engagement's folder writable and run again", file=sys.stderr)


def _run(args: argparse.Namespace, engagement: Engagement,
         results: Mapping[int, StepResult] | None = None, kept: dict | None = None) -> int:
    """`funnel run` on a loaded engagement; `results`: step results already computed; `kept`: a
    dict the report's step results are put in."""
    if not engagement.dated and args.notebooks:
        # The step notebooks measure in months and days; a lead list has no dates. Say so before
        # starting seven kernels, with what the report without notebooks gives instead.
        raise ToolkitError(
            f"{args.engagement}: `funnel run --notebooks` executes the step notebooks, whose "
            f"monthly cohorts, durations and steering need dates, and this engagement is a lead "
            f"list without dates (`dated: false`). Fix: run `funnel run {args.engagement}` "
            f"without --notebooks (the report says per step what needs dates), or load an export "
            f"with a creation date per record")
    # the consultant's, not the client's; the demo's follow-up is the demo's own text
    for warning in ([] if getattr(args, "demo_followup", False)
                    else untouched_template_text(engagement)):
        print(f"Warning: {warning}", file=sys.stderr)
    path = Path(args.engagement).resolve()
    out = Path(args.out) if args.out else report_folder(engagement.name)
    started = time.perf_counter()
    # the previous run, by the rule of toolkit.report.loop: --since, else this --out, else the
    # newest sibling report of the same engagement
    found = None if getattr(args, "no_previous", False) else find_previous(
        out, engagement.name, since=getattr(args, "since", None),
        as_of=engagement.as_of if engagement.dated else None)
    result = report.build_report(engagement, engagement_path=path, out_dir=out, steps=args.steps,
                                 progress=not args.quiet, edition=args.edition,
                                 language=args.language, notebooks=args.notebooks, pdf=args.pdf,
                                 results=results, kept=kept,
                                 previous=None if found is None else found[0],
                                 previous_dir=None if found is None else found[1])
    # the summary in the report's language, its numbers by the one formatter
    fmt = formatter(args.language or engagement.config.language, engagement.config.currency)
    _ = fmt.gettext
    print(_("Report: {path}").format(path=result["index"]))
    # one line per run in report-history.csv beside the report folder (toolkit.analysis.history)
    record_history(Path(result["index"]).parent)
    if found is not None:
        print(_("Since the last report ({previous}): {path}").format(
            previous=found[1], path=Path(result["index"]).parent / "since.html"))
    if "pdf" in result:
        print(_("PDF: {path}").format(path=result["pdf"]))
    print(_("Workbook: {path}").format(path=result["workbook"]))
    if "notebooks" in result:
        print(_("Notebooks: {path}").format(path=result["notebooks"]))
    print(_("Manifest: {path}").format(path=result["manifest"]))
    print(_("Done in {seconds} s").format(seconds=fmt.number(time.perf_counter() - started, 1)))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    engagement = load_engagement(str(DEMO_ENGAGEMENT))
    # the steps once: the baseline printed here and the report are the same results
    results = run_all(engagement, steps=[1, 3] if args.baseline_only else None)
    _print_baseline(engagement, results)
    if args.baseline_only:
        return 0
    _print_headlines(results, args.language or engagement.config.language)
    args.engagement = str(DEMO_ENGAGEMENT)
    args.no_previous = True  # the first report is the first: never compared with a later one
    kept: dict = {}
    code = _run(args, engagement, results, kept=kept)
    if code != 0 or args.no_followup:
        return code
    return _demo_followup(args, engagement, kept)


def _demo_followup(args: argparse.Namespace, first: Engagement, results: dict) -> int:
    """The demo six months later: its export written beside the first report (the consultant's
    plan with two actions started), and its report with the page "Since the last report"
    against the first (toolkit.demo_followup)."""
    out = Path(args.out) if args.out else report_folder(first.name)
    plan = results[6].results.get("action_plan") if 6 in results else None
    paths = write_followup(out.parent / f"{out.name}-followup-export", first=first, plan=plan)
    print(f"\n== Six months later: a second export ({paths['engagement'].parent}) ==")
    second = load_engagement(str(paths["engagement"]))
    follow = argparse.Namespace(**{**vars(args), "engagement": str(paths["engagement"]),
                                   "out": str(out.parent / f"{out.name}-followup"),
                                   "since": str(out), "no_previous": False,
                                   "demo_followup": True})
    return _run(follow, second)


def cmd_compare(args: argparse.Namespace) -> int:
    """`funnel compare OLD_RUN NEW_RUN`: the page "Since the last report" for any two runs, from
    their run states alone, into a folder of its own (never into a report folder)."""
    old, new = Path(args.old).resolve(), Path(args.new).resolve()
    previous, current = read_run_state(old), read_run_state(new)
    out = Path(args.out) if args.out else new.parent / f"{new.name}-since-{old.name}"
    if out.resolve() in (old, new) or (out / ".funnel-report").exists():
        raise ToolkitError(f"{out} is a report folder; `funnel compare` writes its page into a "
                           f"folder of its own. Fix: pass another --out")
    out.mkdir(parents=True, exist_ok=True)
    language = args.language or "nl"
    since = since_last_report(previous, current, history=history_path(new))
    page = render_since(out, since, current, language=language,
                        edition=args.edition or "client",
                        index=os.path.relpath(new / "index.html", out.resolve()))
    print(f"Since the last report: {page}")
    return 0


