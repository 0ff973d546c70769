"""End to end over the bad-input corpus: `funnel validate`, `funnel kpis` and `funnel run` on every
case answer with a clear message or a result — never a pandas/numpy traceback, never a crash.

`funnel validate` and `funnel kpis` run in-process on every case; what `funnel run` computes (the
seven steps and their figures) runs in-process on every case too, and `funnel run` itself, kernels
and all, once per outcome (error, quarantine, ok).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from corpus import CASES  # noqa: E402

from toolkit.cli import main  # noqa: E402
from toolkit.steps import open_engagement, run_all  # noqa: E402

BY_NAME = {c.name: c for c in CASES}
# `funnel run` options of the end-to-end runs (the notebooks are what they start).
RUN_OPTIONS: tuple[str, ...] = ()

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


# The hostile-input cases attack the loader and the files (validate and kpis reach them); their
# effect on the report is checked by one run over all of them together in test_hostile.py.
RUN_CASES = [c for c in CASES if c.report]


@pytest.mark.parametrize("case", RUN_CASES, ids=[c.name for c in RUN_CASES])
def test_the_seven_steps_answer_every_case_clearly(case, tmp_path, capsys):
    """What `funnel run` computes, in-process: an error case stops at opening the engagement with
    the CLI's clear message (exit 2, nothing written); every other case runs all seven steps,
    each part computed or its reason given, and every figure draws."""
    path = case.build(tmp_path)
    if case.outcome == "error":
        out = tmp_path / "report"
        code = main(["run", str(path), "--out", str(out), "--quiet"])
        printed, err = capsys.readouterr()
        _assert_clear(code, printed, err, case)
        assert not out.exists() and not out.with_name("report.partial").exists()
        return
    results = run_all(open_engagement(path, use_cache=False), seed=0)
    assert sorted(results) == [1, 2, 3, 4, 5, 6, 7]
    for result in results.values():
        assert result.headline and "Traceback" not in result.headline
        assert all(isinstance(why, str) and why for why in result.problems.values())
        for name, draw in result.figures.items():
            ax = draw()
            assert ax is not None, (case.name, name)
        plt.close("all")


# `funnel run` as a user types it (a subprocess starting the notebook kernels), once per outcome:
# the in-process test above covers what each case computes; these cover the run around it.
KERNEL_CASES = {"error": "unknown_stage_names", "quarantine": "unknown_stage_names_quarantined",
                "ok": "pipe_delimiter_sniffed"}


@pytest.mark.parametrize("outcome", sorted(KERNEL_CASES))
def test_funnel_run_end_to_end_once_per_outcome(outcome, tmp_path):
    case = BY_NAME[KERNEL_CASES[outcome]]
    assert case.outcome == outcome
    path = case.build(tmp_path)
    report = tmp_path / "report"
    done = subprocess.run([sys.executable, "-m", "toolkit", "run", str(path), "--out", str(report),
                           "--quiet", *RUN_OPTIONS], capture_output=True, text=True,
                          env=_env(tmp_path), timeout=900)
    _assert_clear(done.returncode, done.stdout, done.stderr, case)
    if outcome == "error":
        assert not report.exists() and not report.with_name("report.partial").exists()
    else:
        assert done.returncode == 0, done.stderr[-2000:]
        assert (report / "index.html").is_file() and (report / "manifest.json").is_file()
        assert not report.with_name("report.partial").exists()
