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


# --- the README is what a newcomer needs; the rest lives in docs/ -----------------------------------

README = ROOT / "README.md"


def _links(path: Path) -> list[str]:
    """The relative link targets of a Markdown file (no web addresses, no anchors of the page)."""
    import re
    text = re.sub(r"```.*?```|`[^`]*`", "", path.read_text(encoding="utf-8"), flags=re.S)  # code
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    return [t.split("#")[0] for t in targets if not t.startswith(("http", "#"))]


def test_every_relative_link_of_the_readme_and_the_docs_pages_resolves():
    pages = [README, *sorted((ROOT / "docs").glob("*.md"))]
    broken = [f"{page.name}: {target}" for page in pages for target in _links(page)
              if not (page.parent / target).exists()]
    assert not broken, broken
    linked = {Path(t).name for t in _links(README)}
    assert {p.name for p in (ROOT / "docs").glob("*.md")} <= linked  # every page reachable


def _table_rows(text: str, header: str) -> list[str]:
    """The rows of the Markdown table whose header line starts with `header`."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


def test_the_readme_keeps_the_measured_rates_and_they_are_the_calibration_pages():
    readme = README.read_text(encoding="utf-8")
    full = (ROOT / "docs" / "calibration.md").read_text(encoding="utf-8")
    for header in ("| planted effect |", "| null family |", "| measure | companies |"):
        rows = _table_rows(readme, header)
        assert len(rows) >= 6, header  # the header, its rule and at least four rows
        assert rows == _table_rows(full, header), f"README and docs/calibration.md differ: {header}"
    # the false-claim rate over every null company, with its interval
    assert "| all | 200 | 1 | 1 | 0 | 0 | 2 (1.0%; 0.3–3.6%) |" in readme


def test_the_readmes_yaml_basics_load_on_a_hand_made_export(tmp_path):
    import re

    from toolkit.io.engagement import Engagement
    readme = README.read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(.*?)```", readme[readme.index("## YAML reference"):], re.S)
    assert block is not None
    (tmp_path / "engagement.yaml").write_text(block.group(1), encoding="utf-8")
    # D1 passes every phase and is won; D2 is lost at the lead phase; D3 is still open at proposal.
    (tmp_path / "deal_history.csv").write_text(
        "Deal ID,Stage,Changed,Owner,Source\n"
        "D1,New,2025-01-02,ann,web\nD1,Qualified,2025-01-10,ann,web\n"
        "D1,Proposal sent,2025-01-20,ann,web\nD1,Closed Won,2025-02-01,ann,web\n"
        "D2,New,2025-01-03,bob,event\nD2,Closed Lost,2025-01-09,bob,event\n"
        "D3,New,2025-01-04,ann,web\nD3,Proposal sent,2025-01-30,ann,web\n", encoding="utf-8")
    e = Engagement.from_yaml(tmp_path / "engagement.yaml", use_cache=False)
    outcome = e.records.set_index("record_id")["outcome"].to_dict()
    assert outcome == {"D1": "won", "D2": "lost", "D3": "open"}
    assert e.records.set_index("record_id").loc["D2", "lost_at_phase"] == "lead"
