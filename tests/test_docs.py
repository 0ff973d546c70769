"""The API reference builds without a warning (`make docs`: docs/build_api.py, pdoc with numpy
docstrings), and every module of the library has its page."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs"))

from build_api import modules  # noqa: E402


def test_the_api_reference_builds_without_warnings_and_covers_every_module(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "docs" / "build_api.py"), str(tmp_path)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr[-3000:]
    names = modules()
    assert {"toolkit.stats", "toolkit.steps.result", "toolkit.report.pages"} <= set(names)
    missing = [m for m in names if not (tmp_path / (m.replace(".", "/") + ".html")).exists()]
    assert not missing, missing
    stats = (tmp_path / "toolkit" / "stats.html").read_text()
    assert "rate_ci" in stats and "Wilson" in stats  # a docstring, not just a name
