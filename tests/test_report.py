"""The run's deliverables: executed notebooks, the workbook, the manifest and the browser check of a
rendered report. Two tiny step notebooks are built with nbformat and executed for real (module
fixture, so the kernels start once); the report checked is the demo's steps 1 and 2 rendered from
their step results (the pages themselves are tested in test_report_render.py)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
from pathlib import Path

import nbformat
import numpy as np
import openpyxl
import pandas as pd
import pytest
from PIL import Image, ImageStat

from toolkit import Engagement, report
from toolkit.base.exceptions import ToolkitError
from toolkit.base.paths import DEMO_ENGAGEMENT, NOTEBOOKS_DIR
from toolkit.measure.funnel import funnel
from toolkit.measure.kpis import KPI
from toolkit.present.format import formatter
from toolkit.present.tables import code_text
from toolkit.report import (
    REQUIRED_SHEETS,
    ExecutedNotebooks,
    check_report,
    execute_notebooks,
    workbook_sheets,
    write_manifest,
    write_workbook,
)
from toolkit.report.render import kpi_fields, render_report
from toolkit.report.sheets import header, in_language
from toolkit.steps import run_all

FIGURE_CODE = (
    "%matplotlib inline\n"
    "import sys\n"
    "import warnings\n"
    "import matplotlib.pyplot as plt\n"
    "import pandas as pd\n"
    "warnings.warn('planted warning')\n"
    "print('planted stderr line', file=sys.stderr)\n"
    "fig, ax = plt.subplots(figsize=(5, 3))\n"
    "ax.bar(['lead', 'order'], [{a}, {b}], color='tab:blue')\n"
    "ax.set_title('{title}')\n"
    "plt.show()\n"
    "print(pd.DataFrame({{'phase': ['lead', 'order'], 'n': [{a}, {b}]}}))\n"
    "print('engagement =', engagement)"
)


def _notebook(folder: Path, name: str, title: str, summary: str, body: list[str]) -> Path:
    nb = nbformat.v4.new_notebook()
    parameters = nbformat.v4.new_code_cell(
        'engagement: str = "data/demo/engagement.yaml"  # which client')
    parameters.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {title}\n\n{summary}"), parameters,
                *[nbformat.v4.new_code_cell(code) for code in body]]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    path = folder / name
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def demo_steps():
    demo = Engagement.from_yaml(DEMO_ENGAGEMENT)
    return demo, run_all(demo, seed=0)


@pytest.fixture(scope="module")
def run(tmp_path_factory, demo_steps):
    """Two step notebooks executed once for the whole module, and the demo's pages of steps 1 and
    2 rendered from the step results into the same run folder."""
    root = tmp_path_factory.mktemp("report")
    notebooks = root / "nb"
    notebooks.mkdir()
    _notebook(notebooks, "01_baseline.ipynb", "Stap 1 — Nulmeting / Step 1 — Baseline",
              "Where the **commercial process** stands today. More text follows here.",
              [FIGURE_CODE.format(a=40, b=12, title="Baseline funnel")])
    _notebook(notebooks, "02_process_model.ipynb",
              "Stap 2 — Procesmodel vastleggen / Step 2 — Process model",
              "The phases with their roles, tasks and output.",
              [FIGURE_CODE.format(a=30, b=9, title="Process model")])
    out = root / "out"
    executed = execute_notebooks(DEMO_ENGAGEMENT, out_dir=out, steps=[1, 2], notebooks_dir=notebooks,
                                 progress=False)
    demo, results = demo_steps
    index = render_report(demo, results, out_dir=out / "report", edition="client",
                          pages=[1, 2], date=pd.Timestamp("2026-11-01").date())
    return {"root": root, "notebooks": notebooks, "out": out, "executed": executed, "index": index}


def _images(page: Path) -> list[bytes]:
    sources = re.findall(r'<img[^>]*src="([^"]*)"', page.read_text(encoding="utf-8"))
    return [base64.b64decode(s.split(",", 1)[1]) for s in sources if s.startswith("data:")]


# --- execute_notebooks -----------------------------------------------------------------------

def test_execute_runs_each_step_with_the_engagement_parameter(run):
    executed = run["executed"]
    assert isinstance(executed, ExecutedNotebooks)
    assert [p.name for p in executed] == ["01_baseline.ipynb", "02_process_model.ipynb"]
    assert all(p.parent == run["out"] / "notebooks" and p.is_file() for p in executed)
    nb = nbformat.read(executed[0], as_version=4)
    stdout = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                     for o in c.outputs if o.get("name") == "stdout")
    # papermill injected the absolute engagement path, overriding the cell's default
    assert f"engagement = {DEMO_ENGAGEMENT.resolve()}" in stdout
    assert set(executed.timings) == {"01_baseline.ipynb", "02_process_model.ipynb"}
    assert all(0 < t < 120 for t in executed.timings.values())


def test_failing_notebook_names_notebook_cell_error_and_where_to_look(tmp_path):
    _notebook(tmp_path, "01_ok.ipynb", "Stap 1 — A / Step 1 — A", "Fine.", ["x = 1"])
    _notebook(tmp_path, "02_broken.ipynb", "Stap 2 — B / Step 2 — B", "Breaks.",
              ["y = 2", "total = y + 1\nraise ValueError('planted failure')"])
    _notebook(tmp_path, "03_never.ipynb", "Stap 3 — C / Step 3 — C", "Never runs.", ["z = 3"])
    with pytest.raises(ToolkitError) as info:
        execute_notebooks(DEMO_ENGAGEMENT, out_dir=tmp_path / "out", steps=[1, 2, 3],
                          notebooks_dir=tmp_path, progress=False)
    message = str(info.value)
    assert "02_broken.ipynb" in message
    # the cell as the executed notebook numbers it: parameters (1), papermill's injected
    # parameters (2), `y = 2` (3), the failing cell (4); and its first line
    assert "In [4]" in message and "`total = y + 1`" in message
    assert "ValueError: planted failure" in message
    executed_copy = tmp_path / "out" / "notebooks" / "02_broken.ipynb"
    assert str(executed_copy) in message and executed_copy.is_file()
    assert not (tmp_path / "out" / "notebooks" / "03_never.ipynb").exists()  # later steps not run


def test_missing_step_notebook_fails_before_running_anything(tmp_path):
    _notebook(tmp_path, "01_ok.ipynb", "Stap 1 — A / Step 1 — A", "Fine.", ["x = 1"])
    with pytest.raises(ToolkitError, match=r"Step 4 has no notebook named `04_\*.ipynb`.*01_ok.ipynb"):
        execute_notebooks(DEMO_ENGAGEMENT, out_dir=tmp_path / "out", steps=[1, 4],
                          notebooks_dir=tmp_path, progress=False)
    assert not (tmp_path / "out" / "notebooks" / "01_ok.ipynb").exists()


def test_unknown_kernel_and_missing_engagement_are_named(tmp_path):
    _notebook(tmp_path, "01_ok.ipynb", "Stap 1 — A / Step 1 — A", "Fine.", ["x = 1"])
    with pytest.raises(ToolkitError, match=r"`kernel_name`.*'no-such-kernel'.*ipykernel install"):
        execute_notebooks(DEMO_ENGAGEMENT, out_dir=tmp_path, steps=[1], notebooks_dir=tmp_path,
                          progress=False, kernel_name="no-such-kernel")
    with pytest.raises(ToolkitError, match="engagement file not found"):
        execute_notebooks(tmp_path / "nope.yaml", out_dir=tmp_path, steps=[1],
                          notebooks_dir=tmp_path, progress=False)



def test_the_report_folder_goes_to_the_notebooks_that_ask_for_it(tmp_path, monkeypatch):
    # `funnel run --out X --notebooks` builds in X.partial and moves it to X: step 7's notebook
    # gets X as its `out` parameter (where the previous report is looked for beside); a notebook
    # without an `out` parameter is not given one. papermill's executor is replaced: what is
    # passed is the question here, not the kernel.
    import papermill
    passed = {}

    def execute(source, output, *, parameters, **_):
        passed[Path(source).name] = parameters
    monkeypatch.setattr(papermill, "execute_notebook", execute)
    notebooks = NOTEBOOKS_DIR
    final = tmp_path / "clients" / "acme-run"
    execute_notebooks(DEMO_ENGAGEMENT, out_dir=tmp_path / "clients" / "acme-run.partial",
                      steps=[6, 7], notebooks_dir=notebooks, progress=False, run="r.pickle",
                      report_dir=final)
    assert passed["07_steering.ipynb"] == {"engagement": str(DEMO_ENGAGEMENT.resolve()),
                                           "run": "r.pickle", "out": str(final.resolve())}
    assert "out" not in passed["06_improvement.ipynb"]
    # called on its own, the notebooks' folder is the report's
    execute_notebooks(DEMO_ENGAGEMENT, out_dir=tmp_path / "alone", steps=[7],
                      notebooks_dir=notebooks, progress=False)
    assert passed["07_steering.ipynb"]["out"] == str((tmp_path / "alone").resolve())
    # the report the run compares with (`--since`) goes to the notebooks that declare `previous`
    execute_notebooks(DEMO_ENGAGEMENT, out_dir=tmp_path / "alone", steps=[6, 7],
                      notebooks_dir=notebooks, progress=False, previous_dir=tmp_path / "old")
    assert passed["07_steering.ipynb"]["previous"] == str((tmp_path / "old").resolve())
    assert "previous" not in passed["06_improvement.ipynb"]


# --- the rendered pages --------------------------------------------------------------------

def test_figures_are_embedded_pngs_with_content(run):
    for page in ("01_baseline.html", "02_process_model.html"):
        images = _images(run["index"].parent / page)
        assert images  # the funnel and timeline (step 1), the process schema (step 2)
        for i, png in enumerate(images):
            path = run["root"] / f"{page}-{i}.png"
            path.write_bytes(png)
            with Image.open(path) as image:
                assert image.format == "PNG" and image.size[0] >= 300
                assert max(ImageStat.Stat(image.convert("L")).stddev) > 10  # a chart, not blank


# --- check_report ----------------------------------------------------------------------------

def test_static_check_passes_the_rendered_report(run):
    result = check_report(run["index"], browser=False)
    assert result.ok, result.problems
    shown = sum(len(_images(run["index"].parent / page)) for page in
                ("index.html", "01_baseline.html", "02_process_model.html"))
    assert result.pages_checked == 3 and result.images_found == shown > 0
    assert "browser=False" in result.screenshot_skipped
    assert result.summary["page"].tolist() == ["index.html", "01_baseline.html",
                                               "02_process_model.html"]


def test_static_check_finds_broken_images_errors_stderr_and_dead_links(run, tmp_path):
    report = tmp_path / "report"
    shutil.copytree(run["index"].parent, report)
    page = report / "02_process_model.html"
    planted = ('<img src=""><img src="missing.png"><img src="data:image/png;base64,">'
               '<div class="output_subarea output_text output_error"><pre>ZeroDivisionError</pre></div>'
               '<div class="output_subarea output_stream output_stderr output_text">warn</div>'
               '<a href="03_gone.html">next</a>')
    page.write_text(page.read_text(encoding="utf-8").replace("</main>", planted + "</main>"),
                    encoding="utf-8")
    result = check_report(report / "index.html", browser=False)
    problems = [p for p in result.problems if p.startswith("02_process_model.html")]
    assert len(problems) == 6, result.problems
    joined = " | ".join(problems)
    for expected in ("without a src", "'missing.png' does not exist", "empty data URI",
                     "error output", "stderr block", "'03_gone.html', which does not exist"):
        assert expected in joined
    shown = sum(len(_images(run["index"].parent / page)) for page in
                ("index.html", "01_baseline.html", "02_process_model.html"))
    assert not result.ok and result.images_found == shown + 3


def test_screenshots_of_index_and_pages_are_real_pictures(run, tmp_path):
    if shutil.which("chromium") is None:
        pytest.fail("install chromium (apt-get install chromium): the report's browser check needs "
                    "headless Chromium")
    shot = tmp_path / "index.png"
    result = check_report(run["index"], screenshot=shot)
    assert result.ok, result.problems
    assert result.screenshot_skipped is None
    assert result.screenshots == [shot, tmp_path / "index-01_baseline.png",
                                  tmp_path / "index-02_process_model.png"]
    for png in result.screenshots:
        assert png.stat().st_size > 10_000
        with Image.open(png) as image:
            assert image.size == (1280, 2000)
            grey = np.asarray(image.convert("L"), dtype=float)
        assert grey.std() > 5  # text and lines on white, not an empty page
        assert (grey < 128).mean() > 0.002  # some dark ink: text was drawn


# --- write_manifest --------------------------------------------------------------------------

def test_manifest_hashes_match_the_files_and_records_the_run(run):
    params = {"engagement": str(DEMO_ENGAGEMENT), "steps": [1, 2]}
    path = write_manifest(run["out"], engagement_path=DEMO_ENGAGEMENT, parameters=params,
                          timings=run["executed"].timings)
    manifest = json.loads(path.read_text(encoding="utf-8"))
    assert manifest["engagement"]["sha256"] == hashlib.sha256(DEMO_ENGAGEMENT.read_bytes()).hexdigest()
    assert manifest["engagement"]["name"] == "demo-van-dijk"
    sources = Engagement.from_yaml(DEMO_ENGAGEMENT).source_files()
    assert [s["path"] for s in manifest["sources"]] == [str(p) for p in sources]
    for entry, file in zip(manifest["sources"], sources, strict=True):
        assert entry["sha256"] == hashlib.sha256(file.read_bytes()).hexdigest()
        assert entry["size"] == file.stat().st_size and entry["relative_path"] == file.name
    assert manifest["packages"]["pandas"] == pd.__version__
    assert manifest["packages"]["numpy"] == np.__version__
    assert {"scipy", "statsmodels", "seaborn", "papermill"} <= set(manifest["packages"])
    assert manifest["toolkit"]["version"] and manifest["python"]["version"].startswith("3.")
    assert manifest["parameters"] == params
    assert manifest["timings"] == run["executed"].timings
    outputs = {o["relative_path"]: o for o in manifest["outputs"]}
    report_page = run["out"] / "report" / "01_baseline.html"
    assert outputs["report/01_baseline.html"]["sha256"] == hashlib.sha256(
        report_page.read_bytes()).hexdigest()


# --- write_workbook --------------------------------------------------------------------------

def _header(name: str) -> str:
    """A library column's header in the English workbook (its name in words)."""
    return header(name, formatter("en"))


def _sheet(path, sheet: str, columns: list[str]) -> pd.DataFrame:
    """`columns` of a sheet of the English workbook, found by their headers in words and named
    back by the library's names."""
    frame = pd.read_excel(path, sheet_name=sheet)
    headers = [_header(name) for name in columns]
    missing = [h for h in headers if h not in frame.columns]
    assert not missing, f"{sheet}: no column headed {missing} in {list(frame.columns)}"
    return frame[headers].set_axis(columns, axis=1)


def test_workbook_of_the_demo_has_the_sheets_formatted(tmp_path, demo_steps):
    demo, results = demo_steps
    path = write_workbook(demo, out_path=tmp_path / "x" / "demo.xlsx", results=results)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Scorecard", "KPIs", "Funnel", "Low-hanging fruit", "Segment scan",
                               "Action plan", "Quarantine", "Reconciliation", "About"]
    for sheet in book.worksheets:
        assert sheet.freeze_panes == "A2" and all(c.font.bold for c in sheet[1] if c.value)

    def column(sheet, name):
        header = [c.value for c in sheet[1]]
        return [row[header.index(_header(name))] for row in sheet.iter_rows(min_row=2)]

    expected = funnel(demo)
    funnel_sheet = book["Funnel"]
    rates = column(funnel_sheet, "rate")
    assert rates[1].number_format == "0.0%" and rates[1].value == pytest.approx(expected["rate"][1])
    assert rates[1].value == pytest.approx(expected["successes"][1] / expected["n"][1])
    assert column(funnel_sheet, "reached")[0].number_format == "#,##0"
    assert funnel_sheet.column_dimensions["B"].width >= len("Target (suspects)")

    kpis = book["KPIs"]
    by_kpi = {row[0].value: row for row in kpis.iter_rows(min_row=2)}
    value = [c.value for c in kpis[1]].index(_header("value"))
    assert by_kpi["conversion_target_lead"][value].number_format == "0.0%"
    assert by_kpi["volume_target"][value].number_format != "0.0%"

    card = _sheet(path, "Scorecard", ["kpi", "label", "period", "value", "target", "status",
                                      "trend"])
    conversions = card[card["kpi"].str.startswith("conversion_")]
    # each conversion judged on its latest judgeable month, not the immature last one
    assert len(conversions) == 4 and conversions["value"].notna().all()
    assert (conversions["period"] < "2026-10").all()
    assert column(book["Low-hanging fruit"], "extra_orders")[0].number_format != "0.0%"
    # a lead-volume finding's rate is entries per month (66.7), not a share shown as 6,667%
    fruit = book["Low-hanging fruit"]
    formats = {(area.value, rate.number_format) for area, rate in
               zip(column(fruit, "area"), column(fruit, "rate"), strict=True)}
    assert ("Lead volume", "#,##0.0") in formats and ("Bottleneck", "0.0%") in formats
    assert {f for area, f in formats if area != "Lead volume"} == {"0.0%"}
    # the fields a mix shift's and a stalled finding's evidence is written from, formatted
    for name, shown in [("rate_effect", "0.0%"), ("mix_effect", "0.0%"), ("p_pooled", "0.0000"),
                        ("p_within", "0.0000"), ("stall_quantile", "0.0%"), ("moved_n", "#,##0"),
                        ("open_n", "#,##0"), ("order_rate", "0.0%")]:
        assert {c.number_format for c in column(fruit, name)} == {shown}, name
    scan = _sheet(path, "Segment scan", ["attribute", "segment", "p_adjusted"])
    assert len(scan) == len(results[5].tables["segment scan"])
    assert column(book["Segment scan"], "p_adjusted")[0].number_format == "0.0000"
    recon = _sheet(path, "Reconciliation", ["rows_in", "rows_used", "balanced"])
    assert recon["balanced"].all()
    assert recon["rows_in"].tolist() == demo.reconciliation["rows_in"].tolist()
    quarantine = pd.read_excel(path, sheet_name="Quarantine")
    # every quarantined row is on the sheet: rows_in - rows_used of the reconciliation
    assert len(quarantine) == len(demo.quarantine) == int(
        (recon["rows_in"] - recon["rows_used"]).sum())


def test_the_workbooks_scorecard_is_step_7s(tmp_path, demo_steps):
    demo, results = demo_steps
    path = write_workbook(demo, out_path=tmp_path / "demo.xlsx", results=results)
    step7 = results[7].tables["scorecard"]
    # the rate KPIs management steers on, as step 7 judges them (the old sheet had every KPI)
    assert len(step7) == 6
    sheet = pd.read_excel(path, sheet_name="Scorecard")
    assert list(sheet.columns) == [_header(c) for c in step7.columns]
    sheet.columns = step7.columns
    # the numbers and codes as step 7 has them; the text cells written from the codes and fields
    # (a status from its code, a KPI named from its phases) as on the pages
    expected = in_language(step7.reset_index(drop=True), formatter("en"),
                           phases=demo.phase_model, kpi_fields=kpi_fields(results))
    expected["status_code"] = expected["status_code"].astype(str)
    assert (sheet["status"] == [code_text(c, formatter("en")) for c in sheet["status_code"]]).all()
    sheet["note"] = sheet["note"].fillna("")
    pd.testing.assert_frame_equal(sheet, expected, check_dtype=False, check_exact=False,
                                  rtol=1e-12)


def test_the_workbook_runs_the_steps_it_was_not_given(tmp_path, demo_steps, monkeypatch):
    demo, results = demo_steps
    ran = []
    original = report.workbook.run_all

    def counted(engagement, **options):
        ran.append(sorted(options.get("steps") or range(1, 8)))
        return original(engagement, **options)
    monkeypatch.setattr(report.workbook, "run_all", counted)
    write_workbook(demo, out_path=tmp_path / "a.xlsx", results=results)
    assert ran == []  # everything it needs was passed: nothing computed again
    write_workbook(demo, out_path=tmp_path / "b.xlsx", results={1: results[1], 4: results[4]})
    assert ran == [[5, 7]]
    with pytest.raises(ToolkitError, match=r"the workbook needs the results of steps \[1, 4, 5, 7\]"):
        workbook_sheets({1: results[1]})


def _tiny_engagement(kpis=None) -> Engagement:
    events = pd.DataFrame({"record_id": ["R1", "R1", "R2"], "phase": ["a", "b", "a"],
                           "entered_at": pd.to_datetime(["2025-01-02", "2025-01-09", "2025-02-01"])})
    events["source_stage"], events["source_row"] = events["phase"], [2, 3, 4]
    records = pd.DataFrame({"record_id": ["R1", "R2"], "outcome": ["won", "lost"],
                            "closed_at": pd.to_datetime(["2025-01-09", "2025-02-20"]),
                            "created_at": pd.to_datetime(["2025-01-02", "2025-02-01"]),
                            "lost_at_phase": [None, "a"], "value": [1000.0, None]})
    return Engagement.from_tables(events, records, phases=[{"key": "a", "label": "A"},
                                                           {"key": "b", "label": "B"}],
                                  as_of=pd.Timestamp("2025-12-31"), kpis=kpis)


def test_scorecard_that_cannot_be_computed_becomes_a_note(tmp_path):
    # a rate target written as 40 (percent) instead of 0.4: the scorecard refuses it, the
    # workbook still gets written with the reason and the fix on the Scorecard sheet
    kpis = [KPI(name="conversion_a_b", kind="conversion", from_phase="a", to_phase="b",
                window_days=30, target=40)]
    path = write_workbook(_tiny_engagement(kpis), out_path=tmp_path / "tiny.xlsx")
    book = openpyxl.load_workbook(path)
    assert list(REQUIRED_SHEETS) == [s for s in book.sheetnames if s in REQUIRED_SHEETS]
    assert book.sheetnames[:3] == ["Scorecard", "KPIs", "Funnel"]
    card = pd.read_excel(path, sheet_name="Scorecard")
    assert list(card.columns) == [_header("note")] and "write 0.4 for 40%" in card.iloc[0, 0]
    kpi_sheet = _sheet(path, "KPIs", ["n", "value"])
    # R1 reached b 7 days after a (within 30), R2 did not: 1 of 2
    assert kpi_sheet.loc[0, "n"] == 2 and kpi_sheet.loc[0, "value"] == pytest.approx(0.5)
    assert pd.read_excel(path, sheet_name="Quarantine").empty


@pytest.mark.parametrize("name, message", [
    ("Bad/name", "Excel sheet names"),
    ("a" * 32, "Excel sheet names"),
    ("kpis", "differ from the workbook's own sheets"),
    ("Segment scan", "differ from the workbook's own sheets"),
])
def test_extra_sheet_names_are_checked(tmp_path, name, message):
    with pytest.raises(ToolkitError, match=message):
        write_workbook(_tiny_engagement(), out_path=tmp_path / "t.xlsx",
                       extra_sheets={name: pd.DataFrame({"x": [1]})})


def test_extra_sheet_must_be_a_frame(tmp_path):
    with pytest.raises(ToolkitError, match="must be DataFrames, but sheet 'Fruit' got a list"):
        write_workbook(_tiny_engagement(), out_path=tmp_path / "t.xlsx", extra_sheets={"Fruit": [1]})
