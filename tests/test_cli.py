"""The `funnel` command end to end: start an engagement, validate good and broken ones, run the
seven steps into a report and look at it in headless Chromium."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import openpyxl
import pandas as pd
import pytest
from conftest import DEMO, SALESFORCE

from toolkit.cli import main
from toolkit.report import check_report

FUNNEL = [sys.executable, "-m", "toolkit"]


def run(*args, cwd=None):
    return subprocess.run([*FUNNEL, *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


def test_help_as_a_user_types_it():
    """One subprocess: `python -m toolkit` is the `funnel` command."""
    result = run("--help")
    assert result.returncode == 0 and "usage: funnel" in result.stdout


@pytest.mark.parametrize("command", ["new", "validate", "kpis", "run", "demo"])
def test_help_on_every_command(command, capsys):
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0 and "usage: funnel" in capsys.readouterr().out


def _exit_code(args: list[str]) -> int:
    """What `funnel ARGS` exits with: main's return, or argparse's exit on a bad argument."""
    try:
        return main(args)
    except SystemExit as done:
        return int(done.code)


def test_wrong_arguments_get_a_clear_answer(tmp_path, capsys):
    assert _exit_code(["run", str(DEMO / "engagement.yaml"), "--steps", "9"]) == 2
    assert "steps must be within 1-7" in capsys.readouterr().err
    assert _exit_code(["validate", str(tmp_path / "missing.yaml")]) == 2
    err = capsys.readouterr().err
    assert "engagement file not found" in err and "funnel new NAME" in err
    assert _exit_code(["kpis", str(DEMO / "engagement.yaml"), "--out",
                       str(tmp_path / "k.json")]) == 2
    assert "--out must end in .csv or .xlsx" in capsys.readouterr().err


def test_new_writes_a_commented_template_and_a_gitignore(tmp_path, capsys):
    assert main(["new", "acme", "--folder", str(tmp_path)]) == 0
    folder = tmp_path / "acme"
    text = (folder / "engagement.yaml").read_text()
    assert "name: acme" in text and "TODO" in text and "stage_mapping:" in text
    assert (folder / ".gitignore").read_text().splitlines()[1] == "*"
    assert "funnel validate" in capsys.readouterr().out
    assert main(["new", "acme", "--folder", str(tmp_path)]) == 2  # never overwrite silently


def test_new_writes_the_report_language_dutch_unless_asked_for_english(tmp_path):
    import yaml
    assert main(["new", "acme", "--folder", str(tmp_path)]) == 0
    dutch = yaml.safe_load((tmp_path / "acme" / "engagement.yaml").read_text())
    assert dutch["language"] == "nl"
    # the method's order: potentials (suspects) become leads, leads become opportunities (kansen)
    assert [p["label"] for p in dutch["phases"]] == ["Target (suspects)", "Lead", "Kans (opportunity)",
                                                     "Offerte (proposal)", "Order"]
    # the target phase's actions in the method's own words
    assert dutch["phases"][0]["actions"] == ["koud bellen", "uitnodigen op een evenement", "mailen",
                                             "benaderen via het netwerk"]
    assert main(["new", "globex", "--folder", str(tmp_path), "--language", "en"]) == 0
    english = yaml.safe_load((tmp_path / "globex" / "engagement.yaml").read_text())
    assert english["language"] == "en" and english["phases"][2]["label"] == "Opportunity"
    assert [p["key"] for p in dutch["phases"]] == [p["key"] for p in english["phases"]]
    assert _exit_code(["new", "x", "--folder", str(tmp_path), "--language", "de"]) == 2


def test_validate_a_broken_engagement_names_the_key_and_fails(tmp_path):
    path = tmp_path / "engagement.yaml"
    path.write_text((DEMO / "engagement.yaml").read_text().replace(
        "shape: history", "shape: histroy").replace("path: crm_fasehistorie.csv",
                                                    f"path: {DEMO / 'crm_fasehistorie.csv'}"))
    result = run("validate", path)
    assert result.returncode == 2
    assert "sources[0].shape" in result.stderr and "'histroy'" in result.stderr


def test_validate_demo_json_reconciles():
    result = run("validate", DEMO / "engagement.yaml", "--json")
    assert result.returncode == 0
    report = json.loads(result.stdout)
    for row in report["reconciliation"]:
        assert row["rows_in"] == row["rows_used"] + row["rows_quarantined"]
    assert report["records"] == 12000


def _check_screenshots(index, tmp_path):
    if not shutil.which("chromium") and not shutil.which("chromium-browser"):
        pytest.fail("install chromium (apt-get install chromium): the report must be looked at")
    check = check_report(index, screenshot=tmp_path / "report.png")
    assert check.ok, check.problems
    assert check.images >= 5
    assert (tmp_path / "report.png").stat().st_size > 10_000
    return check


def test_run_on_the_demo_gives_report_workbook_and_manifest(tmp_path):
    """The one `funnel run` that starts the notebook kernels (--notebooks): the analyst's
    notebooks executed beside the report, without an error cell."""
    out = tmp_path / "report"
    result = run("run", DEMO / "engagement.yaml", "--out", out, "--quiet", "--notebooks")
    assert result.returncode == 0, result.stderr[-3000:]
    # a quiet terminal: the result lines only, no warning (they are notes in the workbook)
    assert result.stderr == "", result.stderr[-3000:]
    lines = result.stdout.splitlines()
    # in the engagement's language (the demo's YAML says nl), as the report (issue 22)
    assert [line.split(":")[0] for line in lines[:4]] == ["Rapport", "Werkmap", "Notebooks",
                                                          "Manifest"]
    assert len(lines) == 5 and lines[4].startswith("Klaar in "), lines
    # --notebooks: the seven notebooks ran in their kernels, on the run's step results
    executed = sorted((out / "notebooks").glob("0[1-7]_*.ipynb"))
    assert len(executed) == 7
    for path in executed:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        errors = [o for c in cells for o in c.get("outputs", []) if o["output_type"] == "error"]
        assert not errors, (path.name, errors[:1])
        # ... handed to each notebook as its `run` parameter (not through the environment)
        injected = "".join(next("".join(c["source"]) for c in cells if "injected-parameters"
                                in c.get("metadata", {}).get("tags", [])))
        assert "run = " in injected and "results.pickle" in injected, injected
        # ... and step 7's the report folder of --out, where the previous report is looked for
        # beside (the run builds in a folder next to it)
        wanted = f'out = "{out.resolve()}"' if path.name.startswith("07_") else "out = "
        assert (wanted in injected) == path.name.startswith("07_"), injected
    for page in ("index.html", "01_baseline.html", "07_steering.html", "manifest.json",
                 "demo-van-dijk.xlsx"):
        assert (out / page).exists(), page
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["parameters"]["steps"]) == 7
    # step 6 evaluates only declared changes, and the manifest says which (the demo has none)
    assert manifest["parameters"]["changes"] == []
    _check_screenshots(out / "index.html", tmp_path)
    _assert_no_contact_name_in(out)


def _assert_no_contact_name_in(out):
    """The demo's contact persons are personal data: no report file may hold one (pages, executed
    notebooks, manifest, every workbook cell)."""
    raw = pd.read_csv(DEMO / "crm_fasehistorie.csv", sep=";", encoding="cp1252", dtype=str)
    names = set(raw["Contactpersoon"].dropna())
    assert len(names) > 100
    texts = []
    for file in out.rglob("*"):
        if file.suffix in {".html", ".ipynb", ".json", ".csv", ".md"}:
            texts.append(file.read_text(encoding="utf-8"))
        elif file.suffix == ".xlsx":
            book = openpyxl.load_workbook(file, read_only=True)
            texts += [str(v) for ws in book.worksheets for row in ws.iter_rows(values_only=True)
                      for v in row if v is not None]
    blob = "\n".join(texts)
    assert len(blob) > 100_000
    leaked = [n for n in names if n in blob]
    assert not leaked, f"contact names in the report: {leaked[:5]}"


def test_a_salesforce_engagement_from_funnel_new_runs_end_to_end(tmp_path):
    """Small data: every step must degrade gracefully instead of crashing or claiming."""
    assert main(["new", "sf", "--folder", str(tmp_path), "--preset", "salesforce", "--history",
                 str(SALESFORCE / "OpportunityHistory.csv"), "--records",
                 str(SALESFORCE / "Opportunity.csv"), "--language", "en"]) == 0
    path = tmp_path / "sf" / "engagement.yaml"
    assert run("validate", path).returncode == 0
    out = tmp_path / "report"
    result = run("run", path, "--out", out, "--quiet")
    assert result.returncode == 0, result.stderr[-3000:]
    html = (out / "04_measurement.html").read_text(encoding="utf-8")
    assert "Too few mature records to conclude" in html
    verdict = (out / "05_diagnosis.html").read_text(encoding="utf-8")
    assert "insufficient data" in verdict or "too few" in verdict.lower()
    assert os.path.getsize(out / "sf.xlsx") > 5000


def test_a_fresh_template_guides_the_analyst_to_the_next_fix(tmp_path):
    assert main(["new", "acme", "--folder", str(tmp_path)]) == 0
    folder = tmp_path / "acme"
    shutil.copy(DEMO / "crm_fasehistorie.csv", folder / "export.csv")
    path = folder / "engagement.yaml"
    path.write_text(path.read_text().replace("path: TODO export.csv", "path: export.csv"))
    first = run("validate", path)
    assert first.returncode == 2 and "column 'TODO' (for record_id) not found" in first.stderr
    path.write_text(path.read_text().replace(
        "columns: {record_id: TODO, stage: TODO, changed_at: TODO}",
        "columns: {record_id: Deal ID, stage: Fase, changed_at: Datum wijziging}\n"
        "    encoding: cp1252"))
    second = run("validate", path)
    # the empty stage mapping now lists every stage found in the data, with its rows
    assert second.returncode == 2
    assert "9 CRM stage(s) are not in the stage mapping" in second.stderr
    assert "'Suspect' (11146 rows)" in second.stderr


def test_validate_an_export_with_no_usable_row_says_why_and_exits_1(tmp_path):
    (tmp_path / "h.csv").write_text("Deal;Fase;Datum\n;Suspect;03-01-2025 09:00\n")
    from conftest import write_engagement
    path = write_engagement(tmp_path, [{"path": "h.csv", "shape": "history", "date_format": "dmy",
                                        "columns": {"record_id": "Deal", "stage": "Fase",
                                                    "changed_at": "Datum"}}])
    result = run("validate", path)
    assert result.returncode == 1
    assert "missing record id in column 'Deal'" in result.stdout and "Unusable" in result.stdout
