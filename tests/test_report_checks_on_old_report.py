"""The client-page checks fail on the report as `funnel run` rendered it before issue 13.

The pages in tests/golden/report_before_13/ are the demo report of commit 6282f2b (notebooks executed
and their code stripped; see the README there). Each check the issue asks for must fire on that
report wherever the old report showed the fault, so the checks are known to catch a real old page,
not only the hand-made one in test_report_render.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from report_text import client_page_problems

OLD = Path(__file__).parent / "golden" / "report_before_13"
PAGES = sorted(OLD.glob("*.html"))


def _problems(language: str) -> dict[str, list[str]]:
    return {page.name: client_page_problems(page.read_text(encoding="utf-8"), language=language,
                                            demo_allowed=False) for page in PAGES}


def test_the_old_report_is_all_there():
    assert [p.name for p in PAGES] == ["01_baseline.html", "02_process_model.html",
                                       "03_kpis.html", "04_measurement.html",
                                       "05_diagnosis.html", "06_improvement.html",
                                       "07_steering.html", "index.html"]


@pytest.mark.parametrize("language", ["en", "nl"])
def test_every_old_page_fails_the_client_checks(language):
    problems = _problems(language)
    assert all(problems.values()), {name: found for name, found in problems.items() if not found}


# What the old report showed (issue 13's list) and the page where it showed it.
OLD_FAULTS = [
    ("01_baseline.html", "an absolute path: '/home/consultant/engagements/data/demo/"),
    ("01_baseline.html", "a snake_case identifier: 'rows_in'"),
    ("01_baseline.html", "training or tooling text: 'Parameters'"),
    ("01_baseline.html", "the body has header cells (an index column)"),
    ("04_measurement.html", "a number in scientific notation: '3.615e-0'"),
    ("05_diagnosis.html", "a snake_case identifier: 'extra_orders'"),
    ("06_improvement.html", "training or tooling text: 'notebook'"),
    ("07_steering.html", "a number in scientific notation: '3.860e-0'"),
    ("07_steering.html", "a snake_case identifier: 'ci_low'"),
    ("index.html", "an unnamed first column counting rows"),
    ("index.html", "a demo name on a client engagement: 'Van Dijk'"),
]


@pytest.mark.parametrize(("page", "fault"), OLD_FAULTS)
def test_each_check_catches_its_fault_on_the_old_report(page, fault):
    found = _problems("en")[page]
    assert any(fault in problem for problem in found), found


@pytest.mark.parametrize(("page", "fault"), [
    ("01_baseline.html", "a percentage in English format in the Dutch edition: '0.2%'"),
    ("01_baseline.html", "thousands with a comma in the Dutch edition: '31,816'"),
    ("04_measurement.html", "thousands with a comma in the Dutch edition: '10,949'"),
    ("index.html", "an English sentence in the Dutch edition"),
    ("07_steering.html", "an English sentence in the Dutch edition (['and', 'step'])"),
])
def test_the_dutch_checks_catch_the_old_english_report(page, fault):
    found = _problems("nl")[page]
    assert any(fault in problem for problem in found), found
