"""Hostile input, third round (issue 25), beyond what the corpus cases check on their own: memory
bombs measured, report folders that hold the user's files, outputs that never overwrite an input,
messages without personal values, the terminal, and the backstop of the rendered pages.

Each test reproduces an attack of the issue; all of them failed before the fix."""

from __future__ import annotations

import errno
import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DEMO
from corpus import CASES, PEOPLE

from toolkit.base.exceptions import ToolkitError
from toolkit.cli import main

KEY = "round3-key-0123456789abcdef"


@pytest.fixture(autouse=True)
def _key(monkeypatch, tmp_path):
    monkeypatch.setenv("FUNNEL_KEY", KEY)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def _case(name: str, folder: Path) -> Path:
    return next(c for c in CASES if c.name == name).build(folder)


# --- 1. a workbook whose one cell unpacks to 60 million characters --------------------------------

def test_a_workbook_bomb_is_refused_before_its_cell_is_built(tmp_path):
    """The 63 KB workbook of the issue (60,000,000 characters in one cell, deflated) took 5.9 GB;
    `funnel validate` now refuses it, naming the cell, and the process stays far under 1 GB."""
    from corpus import _NOTE_ROWS, _raw_workbook, _workbook_yaml
    rows = [list(row) for row in _NOTE_ROWS]
    rows[2][3] = "x" * 60_000_000
    _raw_workbook(tmp_path / "deals.xlsx", rows)
    del rows
    path = _workbook_yaml(tmp_path)
    assert (tmp_path / "deals.xlsx").stat().st_size < 200_000
    done = subprocess.run([sys.executable, "-m", "toolkit", "validate", str(path)],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the largest child so far
    assert done.returncode == 2, done.stderr[-2000:]
    assert "cell D3" in done.stderr and "row 3" in done.stderr and "131,072" in done.stderr
    assert peak_kb < 1024 * 1024, f"{peak_kb / 1024:.0f} MB"


def test_the_workbook_check_reads_a_sound_workbook_as_before(tmp_path):
    """The hand-written workbook without a bomb: shared and inline strings read as values."""
    from toolkit import Engagement
    e = Engagement.from_yaml(_case("xlsx_raw_workbook_reads", tmp_path), use_cache=False)
    notes = e.records.set_index("record_id")["note"].to_dict()
    assert notes == {"D1": "gedeelde notitie", "D2": "gedeelde notitie"}


# --- 2. an absurd amount ----------------------------------------------------------------------

def test_an_amount_of_1e31_is_left_blank_and_the_others_kept(tmp_path):
    from toolkit import Engagement
    e = Engagement.from_yaml(_case("amount_of_1e31", tmp_path), use_cache=False)
    value = e.records.set_index("record_id")["value"]
    assert value.isna()["D1"] and value["D2"] == 500
    assert any("'1e31'" in note and "not a plausible amount" in note for note in e.notes)


# --- 3. personal values never in an error -------------------------------------------------------

@pytest.mark.parametrize("name", ["csv_without_header_row", "source_links_to_etc_passwd"])
def test_an_error_quotes_no_value_of_the_file(tmp_path, capsys, name):
    """A file without its header row (row 1 holds a contact's name and e-mail address), and a
    link to /etc/passwd (its first line was quoted)."""
    assert main(["validate", str(_case(name, tmp_path))]) == 2
    err = capsys.readouterr().err
    assert not [p for p in PEOPLE if p in err], err
    assert "root:" not in err and "Fix:" in err


# --- 5 and issue 24. the report folder ------------------------------------------------------------

@pytest.fixture
def fake_steps(monkeypatch):
    from test_reproducibility import _fake_steps

    from toolkit import report
    monkeypatch.setattr(report, "run_each", _fake_steps())


def _build(out: Path, steps=(1, 2, 3)):
    from toolkit import Engagement, report
    engagement = Engagement.from_yaml(DEMO / "engagement.yaml")
    return report.build_report(engagement, engagement_path=DEMO / "engagement.yaml", out_dir=out,
                               steps=list(steps), progress=False)


def _contents(folder: Path) -> dict[str, bytes]:
    """The files of `folder` (but the loader's cache) and their bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and ".cache" not in p.relative_to(folder).parts}


def test_files_the_toolkit_did_not_write_survive_a_rerun(tmp_path, fake_steps):
    out = tmp_path / "report"
    _build(out)
    (out / "feedback.docx").write_text("my feedback")
    (out / "mine").mkdir()
    (out / "mine" / "a.txt").write_text("a")
    _build(out)
    assert (out / "feedback.docx").read_text() == "my feedback"
    assert (out / "mine" / "a.txt").read_text() == "a"
    assert (out / "index.html").is_file() and (out / "03_kpis.html").is_file()
    marker = json.loads((out / ".funnel-report").read_text(encoding="utf-8"))
    assert "index.html" in marker["files"] and "manifest.json" in marker["files"]
    assert "feedback.docx" not in marker["files"] and marker["steps"] == [1, 2, 3]
    assert sorted(os.listdir(tmp_path)) == ["report"]  # no .old, no .partial


def test_a_copied_manifest_does_not_make_a_folder_a_report(tmp_path, fake_steps):
    _build(tmp_path / "real")
    project = tmp_path / "proj"
    project.mkdir()
    (project / "thesis.docx").write_text("four years of work")
    shutil.copy(tmp_path / "real" / "manifest.json", project / "manifest.json")
    before = _contents(project)
    with pytest.raises(ToolkitError, match="not a report of an earlier run.*nothing was written"):
        _build(project, steps=[1])
    assert _contents(project) == before
    assert sorted(os.listdir(tmp_path)) == ["proj", "real"]


def test_a_rerun_of_fewer_steps_keeps_the_other_steps_pages(tmp_path, fake_steps, capsys):
    """Issue 24: `funnel run --steps 7 --out <a report of steps 1-7>` deleted pages 1-6."""
    out = tmp_path / "report"
    _build(out, steps=range(1, 8))
    before = _contents(out)
    code = main(["run", str(DEMO / "engagement.yaml"), "--steps", "7", "--out", str(out),
                 "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "step(s) 1, 2, 3, 4, 5, 6" in err and "Fix:" in err, err
    assert _contents(out) == before
    assert sorted(os.listdir(tmp_path)) == ["report"]


def test_a_report_file_the_user_changed_is_not_overwritten(tmp_path, fake_steps):
    out = tmp_path / "report"
    _build(out)
    (out / "index.html").write_text("my edited summary")
    with pytest.raises(ToolkitError, match="index.html .* changed since"):
        _build(out)
    assert (out / "index.html").read_text() == "my edited summary"


def test_a_full_disk_names_the_folder_and_leaves_no_partial(tmp_path, fake_steps, monkeypatch,
                                                            capsys):
    from toolkit import report

    def full(*args, **kwargs):  # a write on a full disk names no file
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(report, "write_workbook", full)
    out = tmp_path / "report"
    assert main(["run", str(DEMO / "engagement.yaml"), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "disk is full" in err and str(tmp_path / "report.partial") in err and "Fix:" in err
    assert os.listdir(tmp_path) == []


def test_a_full_disk_under_kpis_out_names_the_file(tmp_path, monkeypatch, capsys):
    import toolkit.cli.kpis as cli

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(cli, "write_table", full)
    out = tmp_path / "k.xlsx"
    assert main(["kpis", str(_case("pipe_delimiter_sniffed", tmp_path)), "--out", str(out)]) == 2
    assert f"cannot write or read {out}: No space left on device" in capsys.readouterr().err


# --- 11. kpis --out ---------------------------------------------------------------------------

def test_kpis_out_never_overwrites_an_input_or_a_file_it_did_not_write(tmp_path, capsys):
    from openpyxl import Workbook
    path = _case("pipe_delimiter_sniffed", tmp_path)
    book = Workbook()
    book.active.append(["begroting", 2026])
    book.save(tmp_path / "budget.xlsx")
    (tmp_path / "notes.csv").write_text("mijn,notities\n")
    before = _contents(tmp_path)
    for target, words in [("history.csv", "input of this engagement"),
                          ("engagement.yaml", "must end in .csv or .xlsx"),
                          ("budget.xlsx", "not a table the toolkit wrote"),
                          ("notes.csv", "not a table the toolkit wrote")]:
        assert main(["kpis", str(path), "--out", str(tmp_path / target)]) == 2, target
        err = capsys.readouterr().err
        assert words in err and "Fix:" in err, err
    assert _contents(tmp_path) == before
    for name in ("k.csv", "k.xlsx"):  # its own earlier output is replaced
        assert main(["kpis", str(path), "--out", str(tmp_path / name)]) == 0
        assert main(["kpis", str(path), "--out", str(tmp_path / name)]) == 0


# --- 12. look-alike segments and the terminal -------------------------------------------------

def test_look_alike_segments_are_one_category(tmp_path):
    from toolkit import Engagement
    e = Engagement.from_yaml(_case("look_alike_segments", tmp_path), use_cache=False)
    action = e.records.set_index("record_id")["action"].to_dict()
    # three spellings of event, the Latin one kept; the override is data, not folded
    assert action == {"D1": "event", "D2": "event", "D3": "event", "D4": "a\u202eb"}


def test_a_right_to_left_override_never_reaches_the_terminal(tmp_path, capsys):
    from corpus import _yaml_with
    path = _yaml_with(_case("pipe_delimiter_sniffed", tmp_path), name="acme\u202egpj.exe")
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "\u202e" not in out and "acme\\u202egpj.exe" in out


# --- 7. keys ---------------------------------------------------------------------------------

def test_the_readme_says_how_to_make_a_key():
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    assert "secrets.token_hex(32)" in readme and "chmod 600" in readme


def test_pseudonyms_under_path_would_be_reproducible_and_are_refused(tmp_path, monkeypatch):
    """The attack: with `key_env: PATH` anybody on the machine computes the same pseudonyms."""
    from toolkit.base.exceptions import ConfigError
    from toolkit.io.privacy import PrivacyConfig, resolve_key
    for config in (PrivacyConfig(key_env="PATH"), PrivacyConfig(key_env="LC_ALL"),
                   PrivacyConfig(key_env="HOME")):
        with pytest.raises(ConfigError, match="every program on the machine"):
            resolve_key(config, base_dir=tmp_path)
    monkeypatch.setenv("MY_KEY", os.environ["PATH"])  # a key copied from PATH
    with pytest.raises(ConfigError, match="value of the environment variable PATH"):
        resolve_key(PrivacyConfig(key_env="MY_KEY"), base_dir=tmp_path)
    monkeypatch.setenv("MY_KEY", "passwordpassword")  # 16 characters, 44 bits
    with pytest.raises(ConfigError, match="repeats a few characters"):
        resolve_key(PrivacyConfig(key_env="MY_KEY"), base_dir=tmp_path)
    monkeypatch.setenv("MY_KEY", KEY)
    assert resolve_key(PrivacyConfig(key_env="MY_KEY"), base_dir=tmp_path).secret == KEY.encode()


# --- the backstop: the last-resort check and the PDF's Chromium ---------------------------------

PAGE = ('<!DOCTYPE html><html><head><style>body {{ color: black }}</style></head><body>'
        '<p>x</p>{}</body></html>')


@pytest.mark.parametrize("markup, words", [
    ("<style>body { background: red }</style>", "<style> element besides"),
    ("<img src='https:evil.example/t.png'>", "from outside the report"),
    ("<img src='HTTPS:evil.example/t.png'>", "from outside the report"),
    ("<img src='/etc/passwd.png'>", "from outside the report"),
    ("<img src='secret.csv'>", "not an image of the report"),
    ("<img src='../x/fig.png'>", "not an image of the report"),
    ("<p style='background:url(https://evil.example)'>x</p>", "loads or runs something"),
])
def test_the_last_resort_check_refuses_what_escaping_missed(tmp_path, markup, words):
    from toolkit.report.checks import _PageScan, refuse_active_content
    scan = _PageScan()
    scan.feed(PAGE.format(markup))
    assert scan.active and words in scan.active[0], scan.active
    (tmp_path / "index.html").write_text(PAGE.format(markup), encoding="utf-8")
    with pytest.raises(ToolkitError, match="was not delivered"):
        refuse_active_content(tmp_path)


def test_the_last_resort_check_passes_a_page_as_the_templates_make_it():
    from toolkit.report.checks import _PageScan
    scan = _PageScan()
    scan.feed(PAGE.format("<img src='data:image/png;base64,iVBORw0KGgo='><img src='fig/a.png'>"
                          "<a href='https://example.com/method'>method</a>"))
    assert scan.active == []


@pytest.mark.parametrize("css", ["background: u\\72 l(https://evil.example)",
                                 "background: u/**/rl(https://evil.example)",
                                 "@import 'https://evil.example/x.css'"])
def test_the_head_style_sheet_may_not_load_anything(css):
    from toolkit.report.checks import _PageScan
    scan = _PageScan()
    scan.feed(PAGE.replace("color: black", css).format(""))
    assert scan.active == ["a style sheet that loads or runs something"]


def test_the_pdf_is_printed_with_no_host_name_resolving(tmp_path, monkeypatch):
    from toolkit.report import browser
    seen = {}

    def run(command, **kwargs):
        seen["command"] = command
        Path(next(c for c in command if c.startswith("--print-to-pdf="))
             .split("=", 1)[1]).write_bytes(b"%PDF-1.4")
        return subprocess.CompletedProcess(command, 0, "", "")
    monkeypatch.setattr(browser.subprocess, "run", run)
    (tmp_path / "print.html").write_text("<p>x</p>")
    browser.print_pdf(tmp_path / "print.html", tmp_path / "r.pdf", browser="/bin/true")
    assert "--host-resolver-rules=MAP * ~NOTFOUND" in seen["command"]


# --- 1 again: a long value within the limits must not blow up a figure ---------------------------

def test_a_figure_with_a_100000_character_label_stays_small():
    """A segment value of 100,000 characters (within every limit) as a tick label and a title:
    the report's segment-scan figure took 112 s and 1.9 GB; cut to 200 characters it is drawn
    like any other (the tables keep the whole value)."""
    import base64
    import struct

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    from toolkit.report.render import _figure_png
    long = "x" * 100_000

    def draw():
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.barh([0, 1], [3, 4])
        ax.set_yticks([0, 1])
        ax.yaxis.set_major_formatter(FuncFormatter(lambda y, pos: long if y == 0 else "event"))
        ax.set_title(long)
        return ax
    uri = _figure_png(draw)
    png = base64.b64decode(uri.split(",", 1)[1])
    width, height = struct.unpack(">II", png[16:24])
    assert width < 6_000 and height < 2_000, (width, height)
