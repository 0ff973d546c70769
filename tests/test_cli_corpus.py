"""End to end over the bad-input corpus: `funnel validate`, `funnel kpis` and `funnel run` on every
case answer with a clear message or a result — never a pandas/numpy traceback, never a crash.

`funnel run` executes seven notebooks per case, so the runs start once for the module, two at a time
(the machine has two cores), and each case's test then reads its run's result.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from corpus import CASES

from toolkit.cli import main

TRACEBACK_MARKS = ("Traceback (most recent call last)", "internal error", "failed in cell",
                   "could not be executed")
IDS = [c.name for c in CASES]


def _env(tmp: Path) -> dict[str, str]:
    return {**os.environ, "FUNNEL_KEY": "corpus-key-0123456789abcdef", "XDG_CONFIG_HOME": str(tmp),
            "PYTHONWARNINGS": "ignore"}


def _assert_clear(code: int, out: str, err: str, case) -> None:
    text = out + err
    for mark in TRACEBACK_MARKS:
        assert mark not in text, f"{case.name}: {mark!r} reached the user:\n{text[-3000:]}"
    if case.outcome == "error":
        assert code == 2, f"{case.name}: exit {code}\n{text[-2000:]}"
        assert err.startswith("error: ") and "Fix:" in err, err
        for part in case.expect:
            assert part in err, f"{case.name}: {part!r} not in {err!r}"
    else:
        assert code in (0, 1), f"{case.name}: exit {code}\n{text[-2000:]}"


@pytest.fixture(autouse=True)
def _key(monkeypatch, tmp_path):
    monkeypatch.setenv("FUNNEL_KEY", "corpus-key-0123456789abcdef")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_validate_answers_every_case_clearly(case, tmp_path, capsys):
    path = case.build(tmp_path)
    code = main(["validate", str(path)])
    out, err = capsys.readouterr()
    _assert_clear(code, out, err, case)
    if case.outcome != "error":
        assert "rows in = used + quarantined" in out and "MISMATCH" not in out
        if case.outcome == "quarantine":
            assert "Quarantined rows by reason:" in out
        assert code == (0 if "Unusable" not in out else 1)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_kpis_answers_every_case_clearly(case, tmp_path, capsys):
    path = case.build(tmp_path)
    code = main(["kpis", str(path)])
    out, err = capsys.readouterr()
    _assert_clear(code, out, err, case)
    if case.outcome != "error" and code == 0:
        assert "Conversion" in out or "no data" in out


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """`funnel run` on every case, as a user types it (a subprocess), two at a time."""
    root = tmp_path_factory.mktemp("corpus_runs")

    def run(case):
        folder = root / case.name
        folder.mkdir()
        path = case.build(folder)
        done = subprocess.run([sys.executable, "-m", "toolkit", "run", str(path), "--out",
                               str(folder / "report"), "--quiet"], capture_output=True, text=True,
                              env=_env(root), timeout=900)
        return case.name, (done.returncode, done.stdout, done.stderr, folder / "report")

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(run, RUN_CASES))


# The hostile-input cases attack the loader and the files (validate and kpis reach them); their
# effect on the report is checked by one run over all of them together in test_hostile.py.
RUN_CASES = [c for c in CASES if c.report]


@pytest.mark.parametrize("case", RUN_CASES, ids=[c.name for c in RUN_CASES])
def test_run_answers_every_case_clearly(case, runs):
    code, out, err, report = runs[case.name]
    _assert_clear(code, out, err, case)
    if case.outcome == "error":
        assert not report.exists() and not report.with_name("report.partial").exists()
    else:
        assert code == 0, f"{case.name}: exit {code}\n{err[-2000:]}"
        assert (report / "index.html").is_file() and (report / "manifest.json").is_file()
        assert not report.with_name("report.partial").exists()
