"""The demo's answer key (data/demo/README.md) and its report agree: every claim the key lists under
"The report's claims" is on the rendered Dutch page it names, as a trainee reads it there."""

from __future__ import annotations

import json
import re
import warnings

import pandas as pd
import pytest
from conftest import DEMO
from report_text import read_page

from toolkit import Engagement
from toolkit.datasets import REPORT_CLAIMS
from toolkit.report.render import render_report
from toolkit.steps import run_all


def readme_claims() -> dict[str, list[str]]:
    """The JSON block under "## The report's claims" in the answer key."""
    text = (DEMO / "README.md").read_text(encoding="utf-8")
    section = text.split("## The report's claims", 1)[1]
    block = re.search(r"```json\n(.*?)\n```", section, flags=re.S)
    assert block, "the answer key has no claims block"
    return json.loads(block.group(1))


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """The demo's pages as the trainer hands them out (the training edition, in Dutch), each as
    one line of visible text."""
    out = tmp_path_factory.mktemp("answer-key")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        engagement = Engagement.from_yaml(DEMO / "engagement.yaml")
        render_report(engagement, run_all(engagement, seed=0), out_dir=out, language="nl",
                      date=pd.Timestamp("2026-11-30").date())
    return {page.name: " ".join(read_page(page.read_text(encoding="utf-8")).pieces)
            for page in out.glob("*.html")}


def test_the_answer_key_lists_the_claims_the_generator_writes():
    claims = readme_claims()
    assert claims == REPORT_CLAIMS
    assert sum(len(phrases) for phrases in claims.values()) >= 20


def test_every_claim_of_the_answer_key_is_on_its_page(pages):
    missing = [f"{page}: {phrase!r}" for page, phrases in readme_claims().items()
               for phrase in phrases if phrase not in pages.get(page, "")]
    assert not missing, missing


def test_the_answer_key_makes_none_of_the_claims_the_report_contradicted():
    """Issue 24: the key promised an owner alert in step 7, volume charts there, and called more
    leads "not the low-hanging fruit" while the index ranks the lead volume third."""
    text = (DEMO / "README.md").read_text(encoding="utf-8")
    for wrong in ("An owner-level alert flags", "while volume charts dip",
                  "(more leads is not the low-hanging fruit)"):
        assert wrong not in text, wrong
