"""Reproducible numbers and safe writes: the same inputs give the same bytes, the cache follows the
content of the inputs, and a report appears only when it is complete."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil

import nbformat
import openpyxl
import pandas as pd
import pytest
import yaml
from conftest import DEMO

import toolkit.report as report
from toolkit import Engagement
from toolkit.base.exceptions import ToolkitError
from toolkit.cli import main
from toolkit.report import ExecutedNotebooks, write_workbook
from toolkit.steps import STEP_KEYS, StepResult

KEY = "fedcba9876543210fedcba9876543210"


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv("FUNNEL_KEY", KEY)


@pytest.fixture
def demo_copy(tmp_path):
    """The demo engagement in a folder of its own, so its cache starts cold."""
    for name in ("engagement.yaml", "crm_fasehistorie.csv", "crm_deals.xlsx"):
        shutil.copy(DEMO / name, tmp_path / name)
    return tmp_path / "engagement.yaml"


def _cells(path):
    book = openpyxl.load_workbook(path)
    return {ws.title: [[c.value for c in row] for row in ws.iter_rows()] for ws in book.worksheets}


def test_kpi_csv_is_byte_identical_cold_cache_warm_cache_and_no_cache(demo_copy, tmp_path):
    outs = [tmp_path / f"kpis{i}.csv" for i in range(3)]
    assert main(["kpis", str(demo_copy), "--out", str(outs[0])]) == 0       # builds the cache
    assert list((tmp_path / ".cache").rglob("*.parquet"))
    assert main(["kpis", str(demo_copy), "--out", str(outs[1])]) == 0       # reads it
    shutil.rmtree(tmp_path / ".cache")
    assert main(["kpis", str(demo_copy), "--out", str(outs[2])]) == 0       # builds it again
    first = outs[0].read_bytes()
    assert len(first) > 1000
    assert outs[1].read_bytes() == first and outs[2].read_bytes() == first


def test_workbook_cells_are_identical_for_the_same_inputs(demo_copy, tmp_path):
    a = write_workbook(Engagement.from_yaml(demo_copy), out_path=tmp_path / "a.xlsx")
    b = write_workbook(Engagement.from_yaml(demo_copy, use_cache=False), out_path=tmp_path / "b.xlsx")
    cells_a = _cells(a)
    assert len(cells_a) >= 5 and sum(len(rows) for rows in cells_a.values()) > 50
    assert cells_a == _cells(b)


def _history(folder, lines):
    (folder / "h.csv").write_text("Deal;Fase;Datum\n" + "\n".join(lines) + "\n", encoding="utf-8")
    doc = {"name": "cache", "as_of": "2025-06-30",
           "phases": [{"key": "lead", "label": "Lead"}, {"key": "order", "label": "Order"}],
           "stage_mapping": {"Lead": "lead", "Gewonnen": "won", "Verloren": "lost"},
           "sources": [{"path": "h.csv", "shape": "history", "date_format": "dmy",
                        "columns": {"record_id": "Deal", "stage": "Fase", "changed_at": "Datum"}}]}
    path = folder / "engagement.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def test_cache_follows_the_content_of_the_sources_and_the_yaml(tmp_path):
    path = _history(tmp_path, ["A;Lead;01-02-2025", "A;Gewonnen;03-02-2025", "B;Lead;05-02-2025"])
    first = Engagement.from_yaml(path)
    assert first.records["outcome"].tolist() == ["won", "open"]
    key = first._cache_key()

    # Same bytes written again (a new modification time): the same cache answers.
    (tmp_path / "h.csv").write_bytes((tmp_path / "h.csv").read_bytes())
    assert Engagement.from_yaml(path)._cache_key() == key

    # One stage changed in the export: a new key and the new answer, not the cached one.
    _history(tmp_path, ["A;Lead;01-02-2025", "A;Gewonnen;03-02-2025", "B;Lead;05-02-2025",
                        "B;Verloren;06-02-2025"])
    second = Engagement.from_yaml(path)
    assert second._cache_key() != key
    assert second.records["outcome"].tolist() == ["won", "lost"]

    # The YAML changed (a stage now ignored): again a new key and answer.
    doc = yaml.safe_load(path.read_text())
    doc["stage_mapping"]["Verloren"] = "ignore"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    third = Engagement.from_yaml(path)
    assert third._cache_key() not in (key, second._cache_key())
    assert third.records.set_index("record_id").loc["B", "outcome"] == "open"


def test_cache_follows_the_pandas_and_pyarrow_versions(tmp_path, monkeypatch):
    # CI runs the suite on the tested and on the minimum versions in one checkout: tables cached
    # by one pandas or pyarrow must not answer the other
    import pandas as pd
    import pyarrow as pa
    path = _history(tmp_path, ["A;Lead;01-02-2025", "A;Gewonnen;03-02-2025"])
    engagement = Engagement.from_yaml(path)
    key = engagement._cache_key()
    assert engagement._cache_key() == key
    monkeypatch.setattr(pd, "__version__", "2.9.9")
    other_pandas = engagement._cache_key()
    monkeypatch.setattr(pa, "__version__", "1.0.0")
    assert len({key, other_pandas, engagement._cache_key()}) == 3


def test_a_damaged_cache_is_rebuilt_not_trusted(tmp_path):
    path = _history(tmp_path, ["A;Lead;01-02-2025", "A;Gewonnen;03-02-2025"])
    Engagement.from_yaml(path)
    for parquet in (tmp_path / ".cache").rglob("*.records.parquet"):
        parquet.write_bytes(b"not a parquet file")
    assert Engagement.from_yaml(path).records["outcome"].tolist() == ["won"]


# --- safe writes of the report ------------------------------------------------------------------

def _fake_execute(fail_at: int | None = None):
    """Stands in for papermill: writes executed step notebooks (no kernel), failing at a step."""
    def execute(engagement_path, *, out_dir, steps, progress=True, **_):
        target = out_dir / "notebooks"
        target.mkdir(parents=True, exist_ok=True)
        done = ExecutedNotebooks()
        for step in steps:
            if step == fail_at:
                raise ToolkitError(f"Step notebook 0{step}_x.ipynb failed (planted)")
            nb = nbformat.v4.new_notebook()
            cell = nbformat.v4.new_code_cell("print('ok')")
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"step {step}\n")]
            nb.cells = [nbformat.v4.new_markdown_cell(f"# Step {step}\n\nWhat this step does."), cell]
            path = target / f"0{step}_step{step}.ipynb"
            nbformat.write(nb, path)
            done.append(path)
            done.timings[path.name] = 0.0
        return done
    return execute


def _fake_steps(fail_at: int | None = None):
    """Stands in for the steps as `funnel run` computes them (toolkit.steps.run_each, patched as
    ``report.run_each``): one empty result per step, in no time, failing at a step."""
    def run(engagement, *, seed=0, steps=None):
        for step in steps:
            if step == fail_at:
                raise ToolkitError(f"Step {step} failed (planted)")
            sheets = {1: ("Funnel", "Quarantine", "Reconciliation"), 4: ("KPIs",),
                      7: ("Scorecard",)}.get(step, ())
            yield step, StepResult(
                step=step, key=STEP_KEYS[step], conclusions_by_language={"en": [f"step {step}"]},
                sheets={name: pd.DataFrame({"note": [f"step {step}"]}) for name in sheets})
    return run


def test_a_report_appears_only_when_complete_and_replaces_the_old_one(tmp_path, monkeypatch):
    engagement = Engagement.from_yaml(DEMO / "engagement.yaml")
    out = tmp_path / "report"
    monkeypatch.setattr(report, "run_each", _fake_steps())
    result = report.build_report(engagement, engagement_path=DEMO / "engagement.yaml", out_dir=out,
                                 steps=[1, 2, 3], progress=False)
    assert result["index"] == out / "index.html" and result["index"].is_file()
    assert (out / "03_kpis.html").is_file() and result["workbook"].is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    assert all(not o["relative_path"].startswith("..") for o in manifest["outputs"])
    assert not (tmp_path / "report.partial").exists()

    # A failing rerun leaves the complete earlier report untouched and the new one as `.partial`.
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    monkeypatch.setattr(report, "run_each", _fake_steps(fail_at=2))
    with pytest.raises(ToolkitError, match="planted"):
        report.build_report(engagement, engagement_path=DEMO / "engagement.yaml", out_dir=out,
                            steps=[1, 2, 3], progress=False)
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    partial = tmp_path / "report.partial"
    assert partial.is_dir() and not (partial / "index.html").exists()

    # A rerun of fewer steps would delete the other steps' pages (issue 24): refused, nothing
    # touched; a rerun of the same steps replaces the folder.
    monkeypatch.setattr(report, "run_each", _fake_steps())
    with pytest.raises(ToolkitError, match=r"step\(s\) 2, 3, which this run \(--steps 1\)"):
        report.build_report(engagement, engagement_path=DEMO / "engagement.yaml", out_dir=out,
                            steps=[1], progress=False)
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    report.build_report(engagement, engagement_path=DEMO / "engagement.yaml", out_dir=out,
                        steps=[1, 2, 3], progress=False)
    assert (out / "01_baseline.html").is_file() and (out / "03_kpis.html").is_file()
    assert not partial.exists() and not (tmp_path / "report.old").exists()


def test_a_folder_that_is_not_a_report_is_never_replaced(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(report, "run_each", _fake_steps())
    precious = tmp_path / "work"
    precious.mkdir()
    (precious / "notes.docx").write_text("my notes")
    assert main(["run", str(DEMO / "engagement.yaml"), "--out", str(precious), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "is not a report of an earlier run" in err and "nothing was written" in err
    assert (precious / "notes.docx").read_text() == "my notes"
    assert sorted(os.listdir(tmp_path)) == ["work"]


def test_an_unexpected_error_is_reported_as_a_bug_without_a_traceback(tmp_path, monkeypatch, capsys):
    import toolkit.cli.program as cli

    def boom(args):
        raise KeyError("planted")
    monkeypatch.setattr(cli, "cmd_validate", boom)
    monkeypatch.setattr(cli, "_write_crash_log", lambda argv: tmp_path / "crash.log")
    code = main(["validate", str(DEMO / "engagement.yaml")])
    err = capsys.readouterr().err
    assert code == 3
    assert "internal error: KeyError: 'planted'" in err and "bug in the toolkit" in err
    assert "Traceback" not in err and str(tmp_path / "crash.log") in err


def test_pdf_is_delivered_and_its_print_page_is_not(tmp_path, monkeypatch):
    if report.find_browser() is None:
        pytest.fail("install chromium (apt-get install chromium): --pdf prints with it")
    monkeypatch.setattr(report, "run_each", _fake_steps())
    out = tmp_path / "report"
    result = report.build_report(Engagement.from_yaml(DEMO / "engagement.yaml"),
                                 engagement_path=DEMO / "engagement.yaml", out_dir=out,
                                 steps=[1, 2], progress=False, pdf=True)
    assert result["pdf"] == out / "demo-van-dijk.pdf"
    assert result["pdf"].read_bytes().startswith(b"%PDF")
    assert not (out / "print.html").exists()  # the PDF's source, not a page of the report
    manifest = json.loads((out / "manifest.json").read_text())
    assert "demo-van-dijk.pdf" in {o["relative_path"] for o in manifest["outputs"]}
    assert manifest["parameters"]["pdf"] is True


def test_the_client_workbook_leaves_out_what_to_write_in_the_yaml(tmp_path, monkeypatch):
    # the workbook goes to the board with the client edition: a note's instruction to the analyst
    # about the engagement file is left out there, and kept in the training edition
    fake = _fake_steps()

    def with_a_problem(engagement, *, seed=0, steps=None):
        for step, result in fake(engagement, seed=seed, steps=steps):
            if step == 6:
                result = dataclasses.replace(result, problems={
                    "evaluation": "No process change is declared. To evaluate one, add an entry "
                                  "under `changes:` in the engagement YAML."})
            yield step, result
    monkeypatch.setattr(report, "run_each", with_a_problem)
    engagement = Engagement.from_yaml(DEMO / "engagement.yaml")
    notes = {}
    for edition in ("client", "training"):
        made = report.build_report(engagement, engagement_path=DEMO / "engagement.yaml",
                                   out_dir=tmp_path / edition, steps=[6], progress=False,
                                   edition=edition, language="en")
        sheet = pd.read_excel(made["workbook"], sheet_name="Notes")
        notes[edition] = [n for n in sheet.iloc[:, 0] if "Step 6" in n]
    assert notes["client"] == ["Step 6 (Improve and redesign), evaluation not computed: No process "
                               "change is declared."]
    assert "`changes:` in the engagement YAML" in notes["training"][0]
