"""Hostile input through the whole run (issue 14): one `funnel run` on a copy of the demo whose every
attribute, label, stage and YAML text field holds markup, whose exports hold personal data in
declared personal columns, the owner and an undeclared column, and whose per-record file lists
deals twice with other people's details.

One run serves every check (seven notebook kernels take ~30 s): what headless Chromium sees on every
page, and a scan of every deliverable for the raw personal values.
"""

from __future__ import annotations

import base64
import bisect
import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import DEMO

from toolkit.report import find_browser

SECRET = "SECRET-7f3a9c-do-not-embed"
KEY = "hostile-key-0123456789abcdef"

# Markup for each kind of field; numbered so a hit names the field it came from.
ACTIONS = {"uitnodigen op een evenement": "event <img src=x onerror=alert(1)>",
           "koud bellen": "cold ![x](secret.csv)",
           "mailen": "mailing [c](javascript:alert(2))",
           "benaderen via het netwerk": "network ![t](https://evil.example/t.png)"}
REGIONS = {"Noord": "Noord <script>alert(3)</script>", "Zuid": "Zuid <svg onload=alert(4)>",
           "Midden": '=HYPERLINK("http://evil.example","click") <a href=javascript:alert(5)>w</a>'}
PRODUCTS = {"Advies": "Advies <iframe src=https://evil.example></iframe>",
            "Installatie": "Installatie $\\frac{a}{b}$ *x* `y`", "Onderhoud": "@SUM(1) -2+3"}
STAGES = {"Potentieel": "Potentieel <img src=x onerror=alert(6)>",
          "Onderhandeling": "Onderhandeling ![x](secret.csv)"}


def _hostile_copy(folder: Path) -> tuple[Path, set[str]]:
    """The demo engagement with markup everywhere and a per-record file with duplicate deals;
    returns the YAML and the raw personal values the deliverables must not hold."""
    history = pd.read_csv(DEMO / "crm_fasehistorie.csv", sep=";", dtype=str, encoding="cp1252",
                          keep_default_na=False)
    history["Actie"] = history["Actie"].replace(ACTIONS)
    history["Regio"] = history["Regio"].replace(REGIONS)
    history["Product"] = history["Product"].replace(PRODUCTS)
    folded = {k.casefold(): v for k, v in STAGES.items()}  # the export spells stages many ways
    history["Fase"] = history["Fase"].map(lambda s: folded.get(" ".join(s.split()).casefold(), s))
    history.to_csv(folder / "history.csv", sep=";", index=False, encoding="utf-8")
    (folder / "secret.csv").write_text(f"token;{SECRET}\n", encoding="utf-8")

    # One row per deal with an e-mail address and a phone number, and three deals listed again
    # with other people's details: quarantined, with reasons that must not quote them.
    deals = history.drop_duplicates("Deal ID")[["Deal ID"]].copy()
    deals["Email"] = [f"person{i}@client.example" for i in range(len(deals))]
    deals["Telefoon"] = [f"+31 6 {10000000 + i}" for i in range(len(deals))]
    deals["Notitie"] = "belde met " + history.drop_duplicates("Deal ID")["Contactpersoon"].to_numpy()
    again = deals.head(3).copy()
    again["Email"] = ["intruder.one@client.example", "intruder.two@client.example",
                      "intruder.three@client.example"]
    again["Telefoon"] = ["+31 6 99999991", "+31 6 99999992", "+31 6 99999993"]
    again["Notitie"] = "belde met " + history.drop_duplicates("Deal ID")["Contactpersoon"].iloc[
        -3:].to_numpy()
    pd.concat([deals, again]).to_csv(folder / "deals.csv", sep=";", index=False, encoding="utf-8")
    personal = (set(history["Contactpersoon"]) | set(history["Eigenaar"]) | set(deals["Email"])
                | set(again["Email"]) | set(deals["Telefoon"]) | set(again["Telefoon"])) - {""}

    doc = yaml.safe_load((DEMO / "engagement.yaml").read_text(encoding="utf-8"))
    hostile = "<img src=x onerror=alert(7)> ![x](secret.csv) [c](javascript:alert(8))"
    doc.update(name="<img src=x onerror=alert(9)>", client="<script>alert(10)</script> B.V.",
               description=hostile)
    for i, phase in enumerate(doc["phases"]):
        phase["label"] = f"{phase['label']} <b onmouseover=alert({20 + i})>!</b>"
        for field in ("description", "output", "entry_criteria"):
            phase[field] = hostile
        for field in ("functions", "tasks", "actions"):
            phase[field] = [hostile, "![t](https://evil.example/t.png)"]
    doc["stage_mapping"] = {STAGES.get(k, k): v for k, v in doc["stage_mapping"].items()}
    doc["costs"] = [{**c, "action": ACTIONS[c["action"]]} for c in doc["costs"]]
    doc["duration_factors"] = {k: {**v, "note": hostile} for k, v in doc["duration_factors"].items()}
    doc["privacy"] = {"owner_names": "pseudonymise"}
    doc["changes"] = [{"date": "2025-09-01", "description": hostile, "step": "lead"}]
    # the demo's own KPI set, declared, with markup in every text of each KPI
    from toolkit import Engagement
    from toolkit.measure.kpis import default_kpis
    kpis = [k.model_dump(mode="json", exclude_none=True)
            for k in default_kpis(Engagement.from_yaml(DEMO / "engagement.yaml"))]
    for i, kpi in enumerate(kpis):
        kpi["label"] = f"{kpi.get('label', kpi['name'])} <img src=x onerror=alert({40 + i})>"
        kpi["description"] = hostile
        for text in ("owner", "kpi_owner"):
            if text in kpi:
                kpi[text] = "[o](javascript:alert(60))"
    doc["kpis"] = kpis
    source = doc["sources"][0]
    source.update(path="history.csv", encoding="utf-8",
                  records={"path": "deals.csv", "delimiter": ";",
                           "columns": {"record_id": "Deal ID"},
                           "attributes": {"email": "Email", "phone": "Telefoon"}})
    source["personal"] = ["contact", "email", "phone"]
    path = folder / "engagement.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path, personal


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    scratch = tmp_path_factory.mktemp("tmp")  # the run's temporary folder: where a crash log goes
    path, personal = _hostile_copy(folder)
    env = {**os.environ, "FUNNEL_KEY": KEY, "XDG_CONFIG_HOME": str(folder / "config"),
           "TMPDIR": str(scratch), "PYTHONWARNINGS": "ignore"}
    out = folder / "report"
    run = subprocess.run([sys.executable, "-m", "toolkit", "run", str(path), "--out", str(out),
                          "--quiet"], capture_output=True, text=True, env=env, timeout=600)
    validate = subprocess.run([sys.executable, "-m", "toolkit", "validate", str(path), "--json"],
                              capture_output=True, text=True, env=env, timeout=300)
    kpis = subprocess.run([sys.executable, "-m", "toolkit", "kpis", str(path), "--by", "contact"],
                          capture_output=True, text=True, env=env, timeout=300)
    return {"folder": folder, "out": out, "run": run, "validate": validate, "kpis": kpis,
            "personal": personal, "scratch": scratch}


def test_the_hostile_engagement_runs_to_a_report(hostile):
    run = hostile["run"]
    assert run.returncode == 0, run.stderr[-3000:]
    assert (hostile["out"] / "index.html").is_file()
    # the workbook is named after the engagement, inside --out, whatever the name holds
    assert [p.name for p in hostile["out"].glob("*.xlsx")] == ["img_src_x_onerror_alert_9.xlsx"]


# --- what Chromium sees -------------------------------------------------------------------------

class _Dom(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, {k.lower(): v or "" for k, v in attrs}))

    def handle_data(self, data):
        self.text.append(data)


def _dom(browser: str, page: Path, profile: Path) -> _Dom:
    """The DOM after Chromium parsed the page and ran whatever it would run (5 s of virtual time),
    with every host name unresolvable so nothing can be fetched."""
    done = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", f"--user-data-dir={profile}",
         "--host-resolver-rules=MAP * ~NOTFOUND", "--virtual-time-budget=5000", "--dump-dom",
         page.resolve().as_uri()], capture_output=True, text=True, timeout=120,
        stdin=subprocess.DEVNULL)
    assert done.stdout.strip().startswith("<html") or "<body" in done.stdout, done.stderr[-500:]
    dom = _Dom()
    dom.feed(done.stdout)
    return dom


def test_chromium_sees_no_handler_script_url_local_file_or_remote_resource(hostile, tmp_path):
    browser = find_browser()
    assert browser, "install chromium (apt-get install chromium): this test looks at the report in it"
    pages = sorted(hostile["out"].glob("*.html"))
    assert len(pages) == 8  # the index and the seven steps
    secret_b64 = {base64.b64encode(f"token;{SECRET}\n".encode()).decode()[:20]}
    shown = ""
    for page in pages:
        dom = _dom(browser, page, tmp_path / page.stem)
        for tag, attrs in dom.elements:
            assert tag not in {"script", "iframe", "object", "embed", "svg", "frame", "base",
                               "form", "link"}, (page.name, tag, attrs)
            for name, value in attrs.items():
                where = (page.name, tag, name, value[:80])
                assert not name.startswith("on"), where
                url = re.sub(r"\s+", "", value).lower()
                assert not url.startswith(("javascript:", "vbscript:")), where
                if name in ("src", "href", "srcset", "poster", "data", "action"):
                    if url.startswith("data:"):
                        # a figure: a PNG drawn by the notebook, never a file read from the disk
                        assert tag == "img" and url.startswith("data:image/png;base64,"), where
                        raw = base64.b64decode(value.split(",", 1)[1])
                        assert raw.startswith(b"\x89PNG\r\n\x1a\n") and SECRET.encode() not in raw
                    else:
                        # nothing from outside: only links between the report's own pages
                        assert not re.match(r"^([a-z][a-z0-9+.-]*:)?//", url), where
                        assert tag == "a" and re.fullmatch(r"[\w.-]+\.html(#.*)?|#.*", value), where
        text = " ".join(dom.text)
        assert SECRET not in text and not any(b in text for b in secret_b64), page.name
        shown += text
    # the markup is shown as the characters typed, not dropped
    assert "<b onmouseover=alert(21)>!</b>" in shown
    assert "<script>alert(10)</script> B.V." in shown


# --- no raw personal value in any deliverable ---------------------------------------------------

def _workbook_text(path: Path) -> str:
    from openpyxl import load_workbook
    book = load_workbook(path, read_only=True)
    return "\n".join(str(v) for sheet in book for row in sheet.iter_rows(values_only=True)
                     for v in row if v is not None)


def _cache_text(folder: Path) -> str:
    parts = []
    for file in sorted((folder / ".cache").rglob("*")):
        if file.suffix == ".parquet":
            parts.append(pd.read_parquet(file).to_csv())
        elif file.is_file():
            parts.append(file.read_text(encoding="utf-8", errors="replace"))
    assert parts, "the run left no cache to scan"
    return "\n".join(parts)


def test_no_personal_value_in_any_deliverable(hostile):
    import html as html_module
    run = hostile["run"]
    assert run.returncode == 0, run.stderr[-3000:]
    out = hostile["out"]
    deliverables = {page.name: html_module.unescape(page.read_text(encoding="utf-8"))
                    for page in out.glob("*.html")}
    for notebook in (out / "notebooks").glob("*.ipynb"):
        deliverables[notebook.name] = json.dumps(json.loads(notebook.read_text()),
                                                 ensure_ascii=False)
    for book in out.glob("*.xlsx"):
        deliverables[book.name] = _workbook_text(book)
    deliverables["manifest.json"] = (out / "manifest.json").read_text(encoding="utf-8")
    deliverables["cache"] = _cache_text(hostile["folder"])
    deliverables["validate --json"] = hostile["validate"].stdout
    deliverables["kpis --by contact"] = hostile["kpis"].stdout
    deliverables["terminal"] = run.stdout + run.stderr + hostile["validate"].stderr
    crash_logs = list(hostile["scratch"].glob("funnel-crash-*.log"))
    assert not crash_logs, [p.read_text()[-2000:] for p in crash_logs]
    assert json.loads(hostile["validate"].stdout)["pseudonymised"]["columns"] == [
        "contact", "email", "owner", "phone"]
    # the duplicates were quarantined with reasons that name the columns
    reasons = json.loads(hostile["validate"].stdout)["quarantine_reasons"]
    assert any("Email (values not shown)" in r and "Telefoon (values not shown)" in r
               and "Notitie (values not shown)" in r for r in reasons), reasons

    assert len(hostile["personal"]) > 1000
    # the scan finds them where they are: in the exports themselves
    exports = (hostile["folder"] / "history.csv").read_text() + (hostile["folder"] / "deals.csv"
                                                                  ).read_text()
    assert len(_personal_in(exports, hostile["personal"])) == 5
    found = {name: _personal_in(text, hostile["personal"]) for name, text in deliverables.items()}
    assert not any(found.values()), {k: v for k, v in found.items() if v}


def _personal_in(text: str, values: set[str]) -> list[str]:
    """Up to five personal values that occur in `text` (fast on megabytes and thousands of
    values: only a value whose words occur in the text is searched for)."""
    words = set(re.findall(r"[\w+]+", text))
    ordered = sorted(words)

    def starts_a_word(part: str) -> bool:
        i = bisect.bisect_left(ordered, part)
        return i < len(ordered) and ordered[i].startswith(part)

    hits = set()
    for value in values:
        # where a value occurs, every word of it but the last is a whole word of the text and the
        # last starts one (it may run on: "Vries" in "Vriesland"): most values need no search
        parts = re.findall(r"[\w+]+", value)
        if (all(p in words for p in parts[:-1]) and (not parts or starts_a_word(parts[-1]))
                and value in text):
            hits.add(value)
            if len(hits) == 5:  # enough to show; a clean deliverable is searched through
                break
    return sorted(hits)


# --- spreadsheets: a value is never a formula; a control character never breaks the workbook -----

def _corpus(name: str, folder: Path) -> Path:
    from corpus import CASES
    return next(c for c in CASES if c.name == name).build(folder)


def test_workbook_holds_formula_like_values_as_text(tmp_path, monkeypatch):
    from openpyxl import load_workbook

    from toolkit import Engagement
    from toolkit.report import write_workbook
    monkeypatch.setenv("FUNNEL_KEY", KEY)
    e = Engagement.from_yaml(_corpus("formulas_in_values", tmp_path), use_cache=False)
    book = write_workbook(e, out_path=tmp_path / "w.xlsx")  # with step 5's segment scan
    cells = [c for sheet in load_workbook(book) for row in sheet.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    risky = [c for c in cells if isinstance(c.value, str) and c.value[:1] in "=+-@\t\r"]
    values = {c.value for c in risky}
    assert "=NOW()" in values  # the quarantined record id and date, as text
    assert all(c.data_type == "s" and c.quotePrefix for c in risky), [
        (c.coordinate, c.value) for c in risky if not c.quotePrefix]


def test_kpis_out_writes_formula_like_values_as_text(tmp_path, monkeypatch, capsys):
    from openpyxl import load_workbook

    from toolkit.cli import main
    monkeypatch.setenv("FUNNEL_KEY", KEY)
    path = _corpus("formulas_in_values", tmp_path)
    assert main(["kpis", str(path), "--by", "action", "--out", str(tmp_path / "k.csv")]) == 0
    assert main(["kpis", str(path), "--by", "action", "--out", str(tmp_path / "k.xlsx")]) == 0
    text = (tmp_path / "k.csv").read_text(encoding="utf-8")
    assert "'=HYPERLINK(" in text and "'+1+1" in text and "'-2+3" in text and "'@SUM(1)" in text
    for line in text.splitlines():
        for cell in line.split(","):
            assert not cell.lstrip('"').startswith(("=", "+", "@")), line
    cells = [c for sheet in load_workbook(tmp_path / "k.xlsx") for row in sheet.iter_rows()
             for c in row]
    assert '=HYPERLINK("http://evil.example","click")' in {c.value for c in cells}
    assert not [c.coordinate for c in cells if c.data_type == "f"]


def test_control_characters_do_not_break_the_workbook(tmp_path, monkeypatch):
    from openpyxl import load_workbook

    from toolkit import Engagement
    from toolkit.report import write_workbook
    monkeypatch.setenv("FUNNEL_KEY", KEY)
    e = Engagement.from_yaml(_corpus("control_characters_in_values", tmp_path), use_cache=False)
    book = write_workbook(e, out_path=tmp_path / "w.xlsx")  # with step 5's segment scan
    values = {c.value for sheet in load_workbook(book) for row in sheet.iter_rows() for c in row}
    assert "event\ufffd" in values and "\ufffd[31mred" in values


@pytest.mark.parametrize("bad, message", [
    ("k.txt", "--out must end in .csv or .xlsx"),
    ("folder.csv", "is a folder, not a file"),
    ("missing/k.csv", "does not exist"),
])
def test_kpis_out_to_a_wrong_place_is_a_clear_error(tmp_path, monkeypatch, capsys, bad, message):
    from toolkit.cli import main
    monkeypatch.setenv("FUNNEL_KEY", KEY)
    (tmp_path / "folder.csv").mkdir()
    path = _corpus("formulas_in_values", tmp_path)
    assert main(["kpis", str(path), "--out", str(tmp_path / bad)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Fix:" in err


# --- the output folder: one run at a time, and only folders a run made are touched -------------

def _build(out: Path):
    from toolkit import Engagement, report
    engagement = Engagement.from_yaml(DEMO / "engagement.yaml")
    return report.build_report(engagement, engagement_path=DEMO / "engagement.yaml", out_dir=out,
                               steps=[1], progress=False)


@pytest.fixture
def fake_notebooks(monkeypatch):
    from test_reproducibility import _fake_steps

    from toolkit import report
    monkeypatch.setattr(report, "run_each", _fake_steps())


@pytest.mark.parametrize("sibling", ["report.old", "report.partial"])
def test_a_sibling_folder_the_run_did_not_make_is_never_touched(tmp_path, fake_notebooks, sibling):
    from toolkit.base.exceptions import ToolkitError
    (tmp_path / sibling).mkdir()
    (tmp_path / sibling / "thesis.docx").write_text("mine")
    with pytest.raises(ToolkitError, match="will not be touched.*Fix: move or rename"):
        _build(tmp_path / "report")
    assert (tmp_path / sibling / "thesis.docx").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == [sibling]


def test_a_second_run_on_the_same_folder_is_refused_while_the_first_runs(tmp_path, fake_notebooks):
    import fcntl

    from toolkit.base.exceptions import ToolkitError
    from toolkit.report.folder import RUN_MARKER
    out = tmp_path / "report"
    _build(out)  # an earlier, complete report
    partial = tmp_path / "report.partial"
    partial.mkdir()
    (partial / "01_baseline.html").write_text("the other run's page")
    with (partial / RUN_MARKER).open("w") as other:  # another run, alive, holds the lock
        other.write("4242\n")
        other.flush()
        fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(ToolkitError, match=r"Another `funnel run` \(process 4242\)"):
            _build(out)
        assert (partial / "01_baseline.html").read_text() == "the other run's page"
        assert (out / "manifest.json").is_file()
    # once that run is gone (killed: its lock is freed), its remains are cleared by the next run
    result = _build(out)
    assert result["index"].is_file() and not partial.exists()
    # nothing left beside the report (the report history is `funnel run`'s, not build_report's)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]
    assert RUN_MARKER not in {p.name for p in out.iterdir()}


# --- the command line: a clear error where the machine, not the toolkit, is at fault -------------

def test_a_huge_step_range_is_refused_at_once(capsys):
    from toolkit.cli import main
    with pytest.raises(SystemExit) as done:
        main(["run", str(DEMO / "engagement.yaml"), "--steps", "1-99999999999"])
    assert done.value.code == 2
    assert "steps must be within 1-7" in capsys.readouterr().err


@pytest.mark.parametrize("error", [PermissionError(13, "Permission denied", "/srv/reports/x"),
                                   OSError(28, "No space left on device", "/srv/reports/x")])
def test_a_read_only_folder_or_a_full_disk_is_not_called_a_bug(monkeypatch, capsys, error):
    import toolkit.cli as cli
    from toolkit import report

    def fail(*args, **kwargs):
        raise error
    monkeypatch.setattr(report, "build_report", fail)
    assert cli.main(["run", str(DEMO / "engagement.yaml"), "--out", "/srv/reports/x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot write or read /srv/reports/x: " + error.strerror)
    assert "Fix:" in err and "bug" not in err


# --- one snapshot of the inputs per run ------------------------------------------------------------

def test_a_source_changed_during_the_run_does_not_mix_two_datasets(tmp_path, monkeypatch):
    """Every step reads the tables the run loaded (from the bytes it hashed once); the manifest
    records that hash, not the file's new one."""
    import hashlib

    from test_reproducibility import _fake_execute, _fake_steps

    from toolkit import Engagement, report, steps
    monkeypatch.setenv("FUNNEL_KEY", KEY)
    path = _corpus("control_characters_in_values", tmp_path)  # any small engagement: 3 rows
    source = tmp_path / "history.csv"
    before = hashlib.sha256(source.read_bytes()).hexdigest()
    seen = {}
    fake = _fake_execute()

    def execute(engagement_path, **kwargs):
        # another program rewrites the export while the notebooks run
        source.write_text(source.read_text() + "D9;Lead;06-01-2025;x\nD8;Lead;07-01-2025;y\n")
        # what each notebook does: open the engagement with the run's file (its `run` parameter)
        step = steps.open_engagement(engagement_path, run=kwargs["run"])
        seen["rows"] = int(step.reconciliation["rows_in"].sum())
        seen["records"] = len(step.records)
        return fake(engagement_path, **kwargs)
    monkeypatch.setattr(report, "execute_notebooks", execute)
    monkeypatch.setattr(report, "run_each", _fake_steps())
    engagement = Engagement.from_yaml(path)
    # the notebooks (--notebooks) each load the engagement themselves: they read the run's pin
    result = report.build_report(engagement, engagement_path=path, out_dir=tmp_path / "report",
                                 steps=[1], progress=False, notebooks=True)
    assert seen == {"rows": 3, "records": 3}
    manifest = json.loads(result["manifest"].read_text())
    assert [s["sha256"] for s in manifest["sources"]] == [before]
    assert hashlib.sha256(source.read_bytes()).hexdigest() != before
    # outside a run, a load reads the file as it is now
    assert int(Engagement.from_yaml(path).reconciliation["rows_in"].sum()) == 5


def test_figure_text_from_the_data_is_never_mathtext(tmp_path, monkeypatch):
    """A phase label or segment value such as `$\\x$` shows as typed instead of failing the figure."""
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from toolkit import Engagement
    from toolkit.measure.funnel import funnel
    from toolkit.present.plotting import plot_funnel, plot_process_schema
    monkeypatch.setenv("FUNNEL_KEY", KEY)
    path = _corpus("markup_in_phase_labels_and_stages", tmp_path)
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["phases"][2]["label"] = "Potentieel $\\x$ $\\frac{1}{0}$"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    e = Engagement.from_yaml(path, use_cache=False)
    for ax in (plot_funnel(funnel(e), phase_model=e.phase_model),
               plot_process_schema(e.phase_model)):
        figure = ax.figure if hasattr(ax, "figure") else ax
        figure.savefig(io.BytesIO(), format="png")  # raised ParseFatalException before
        texts = [t.get_text() for t in figure.findobj(matplotlib.text.Text)]
        assert any("$\\x$" in t for t in texts), texts
        plt.close(figure)


def test_an_engagement_file_changed_during_the_run_stops_it(tmp_path, monkeypatch):
    from test_reproducibility import _fake_execute

    from toolkit import Engagement, report, steps
    from toolkit.base.exceptions import ConfigError
    monkeypatch.setenv("FUNNEL_KEY", KEY)
    path = _corpus("control_characters_in_values", tmp_path)
    fake = _fake_execute()

    def execute(engagement_path, **kwargs):
        # each notebook opens the engagement with the run's file (its `run` parameter)
        steps.open_engagement(engagement_path, run=kwargs["run"])  # before the edit
        path.write_text(path.read_text(encoding="utf-8").replace("name: corpus", "name: other"),
                        encoding="utf-8")
        steps.open_engagement(engagement_path, run=kwargs["run"])  # a later step
        return fake(engagement_path, **kwargs)
    monkeypatch.setattr(report, "execute_notebooks", execute)
    with pytest.raises(ConfigError, match="changed while `funnel run` was running"):
        report.build_report(Engagement.from_yaml(path), engagement_path=path,
                            out_dir=tmp_path / "report", steps=[1], progress=False,
                            notebooks=True)
    assert not (tmp_path / "report").exists()


# --- names that are paths, paths that are YAML, errors that would quote a person -----------------

def test_a_header_row_error_does_not_print_the_data_row(tmp_path, monkeypatch):
    from corpus import PEOPLE

    from toolkit import Engagement
    from toolkit.base.exceptions import DataError
    monkeypatch.setenv("FUNNEL_KEY", KEY)
    with pytest.raises(DataError) as info:
        Engagement.from_yaml(_corpus("header_row_on_a_data_row", tmp_path), use_cache=False)
    assert not [p for p in PEOPLE if p in str(info.value)], str(info.value)


def test_the_default_report_folder_is_not_taken_from_the_name_as_a_path(tmp_path, monkeypatch):
    import toolkit.cli as cli
    from toolkit import report
    from toolkit.base.exceptions import ToolkitError
    from toolkit.base.paths import REPORTS_DIR
    monkeypatch.setenv("FUNNEL_KEY", KEY)
    seen = {}

    def build(engagement, *, out_dir, **kwargs):
        seen["out"] = Path(out_dir)
        raise ToolkitError("stop here")
    monkeypatch.setattr(report, "build_report", build)
    assert cli.main(["run", str(_corpus("engagement_name_is_a_path", tmp_path))]) == 2
    assert seen["out"].parent.parent == REPORTS_DIR
    assert seen["out"].parent.name == "tmp_.._abs_evil"


@pytest.mark.parametrize("name", ["Opp History #2.csv", "Opp: History.csv", "it's {x}.csv"])
def test_funnel_new_writes_paths_the_yaml_reads_back(tmp_path, name, capsys):
    from conftest import SALESFORCE

    from toolkit.cli import main
    from toolkit.io.config import load_config
    history = tmp_path / name
    history.write_bytes((SALESFORCE / "OpportunityHistory.csv").read_bytes())
    assert main(["new", "acme", "--folder", str(tmp_path), "--preset", "salesforce",
                 "--history", str(history)]) == 0
    config = load_config(tmp_path / "acme" / "engagement.yaml")
    assert (tmp_path / "acme" / config.sources[0].path).resolve() == history.resolve()


def test_control_characters_never_reach_the_terminal(tmp_path, monkeypatch, capsys):
    from toolkit.cli import main
    monkeypatch.setenv("FUNNEL_KEY", KEY)
    path = _corpus("control_characters_in_values", tmp_path)
    assert main(["kpis", str(path), "--by", "action"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x01" not in out
    assert "\\x1b[31mred" in out  # shown as an escape, readable


def test_a_benchmarks_file_is_read_relative_to_the_engagement_file(tmp_path, monkeypatch):
    import shutil

    from corpus import _GOOD, _history, _yaml_with

    from toolkit import Engagement
    from toolkit.measure.benchmarks import BENCHMARKS_FILE, benchmarks_for
    monkeypatch.setenv("FUNNEL_KEY", KEY)
    (tmp_path / "client").mkdir()
    shutil.copy(BENCHMARKS_FILE, tmp_path / "client" / "ours.csv")
    path = _yaml_with(_history(tmp_path / "client", _GOOD), benchmarks_file="ours.csv",
                      benchmark_stages={"lead": "mql", "opportunity": "sql"})
    monkeypatch.chdir(tmp_path)  # the command runs elsewhere (notebooks run in notebooks/)
    e = Engagement.from_yaml(path, use_cache=False)  # validate checks it: no error
    assert len(benchmarks_for(e)) == 1
