"""`funnel run` end to end on a two-phase and an eight-phase engagement and one real sample: all
seven steps, no failed cell, and nothing on the terminal but progress and result lines (no kernel
or Python warnings)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from test_phase_counts import write_n_phase_engagement

RESULT_LINES = ("Report: ", "Workbook: ", "Manifest: ", "Done in ", "Action plan: ")


def _funnel_run_lines(path, tmp_path) -> list[str]:
    """`funnel run --quiet` on the engagement as a user would; the non-blank lines it printed."""
    env = {**os.environ, "FUNNEL_KEY": "phase-count-key-0123456789", "XDG_CONFIG_HOME": str(tmp_path)}
    run = subprocess.run([sys.executable, "-m", "toolkit", "run", str(path), "--quiet",
                          "--out", str(tmp_path / "report")], capture_output=True, text=True,
                         env=env, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    return [line for line in (run.stdout + run.stderr).splitlines() if line.strip()]


@pytest.mark.parametrize("n_phases", [2, 8])
def test_funnel_run_all_seven_steps(tmp_path, n_phases):
    path = write_n_phase_engagement(tmp_path, n_phases)
    lines = _funnel_run_lines(path, tmp_path)
    assert lines and all(line.startswith(RESULT_LINES) for line in lines), lines
    for step in ("01_baseline", "04_measurement", "05_diagnosis", "07_steering"):
        assert (tmp_path / "report" / f"{step}.html").exists()


def test_funnel_run_on_the_pipedrive_sample_keeps_warnings_as_notes(tmp_path):
    """A real snapshot export (one sample end to end): the diagnosis's warnings (a snapshot's
    caveat, a free-text attribute left out of the scan) go to the workbook's Notes sheet, not to
    the terminal."""
    import openpyxl
    from samples import write_sample_engagement
    path = write_sample_engagement(tmp_path, "pipedrive_bec")
    lines = _funnel_run_lines(path, tmp_path)
    assert all(line.startswith(RESULT_LINES) for line in lines), lines
    book = openpyxl.load_workbook(tmp_path / "report" / "bec.xlsx", read_only=True)
    notes = [row[0] for row in book["Notes"].iter_rows(values_only=True)]
    assert any("snapshot" in str(n) for n in notes)
