"""The Dutch a Dutch reader does not stumble on (issue 24): the report's Dutch pages hold none of
the phrases the issue quoted, and none of the variants the catalogue's glossary rejects (one word
per concept, one register), on the demo (client and training edition) and on the shared samples.

The glossary is read from the header of toolkit/locale/nl/LC_MESSAGES/toolkit.po, so the rule is
written once, where a translator works."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pandas as pd
import pytest
from conftest import DEMO, write_salesforce_engagement
from report_text import read_page
from samples import write_sample_engagement

from toolkit import Engagement
from toolkit.present.messages import catalogue_path
from toolkit.report.render import render_report
from toolkit.steps import run_all

# Each phrase of the issue a native writer stumbled on (or the method's words it changed).
QUOTED = [
    "significant naast doel", "naast doel, niet significant", "gangbare segment van",
    "instroom per jaar nodig", "instroom per maand in", "met een doel op doel",
    "als de stap haar referentie", "met vaste seed", "runregels", "engagement-YAML",
    "opportunityfase", "salesdirecteur", "tot vandaag", "(0%)", "`",
    "Bouw eerst de vroege fases op", "Beginniveau", "startniveau", "Draagvlak",
    "Potentieel (opportunity)", "cold calling, event, mailing, network",
    "phone call, intake meeting", "site visit, demo, reference visit", "kick-off",
    "hoe je een",
]

# Words that are names, not Dutch prose: the product, and the board's own labels stay as written.
_NAMES = re.compile(r"funnel-toolkit")


def glossary() -> dict[str, list[str]]:
    """``{concept = word: [rejected variants]}`` from the catalogue's header."""
    found: dict[str, list[str]] = {}
    for line in catalogue_path("nl").read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        match = re.match(r"#\s+(.+?)\s*\|\s*not:\s*(.+)$", line)
        if match:
            found[match.group(1)] = [v.strip() for v in match.group(2).split(";") if v.strip()]
    return found


def _prose(html: str) -> str:
    """The visible text a reader takes as Dutch prose: code (a YAML key to type, a notebook's
    check) and the product's name are left out."""
    html = re.sub(r"<pre>.*?</pre>|<code>.*?</code>", " ", html, flags=re.S)
    return _NAMES.sub(" ", read_page(html).text)


def problems(pages: dict[str, str]) -> list[str]:
    """Each quoted phrase and each rejected variant found, with the page it is on."""
    rejected = [(concept, variant) for concept, variants in glossary().items()
                for variant in variants]
    found = []
    for name, html in pages.items():
        text = _prose(html)
        found += [f"{name}: quoted {q!r}" for q in QUOTED if q in text]
        for concept, variant in rejected:
            match = re.search(rf"(?<![\w-]){re.escape(variant)}(?![\w-])", text, flags=re.I)
            if match:
                start = max(0, match.start() - 40)
                found.append(f"{name}: {variant!r} ({concept}) in …{text[start:match.end() + 40]!r}")
    return found


def _render(engagement, results, folder: Path, edition: str) -> dict[str, str]:
    render_report(engagement, results, out_dir=folder, language="nl", edition=edition,
                  date=pd.Timestamp("2026-11-30").date())
    return {f"{folder.name}/{page.name}": page.read_text(encoding="utf-8")
            for page in sorted(folder.glob("*.html"))}


@pytest.fixture(scope="module")
def demo_pages(tmp_path_factory):
    root = tmp_path_factory.mktemp("words-demo")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        engagement = Engagement.from_yaml(DEMO / "engagement.yaml")
        results = run_all(engagement, seed=0)
        return {edition: _render(engagement, results, root / edition, edition)
                for edition in ("client", "training")}


# The shared samples with a stage history (the two slow ones add a minute and no new sentence).
SAMPLES = ["salesforce", "salesforce_winkel", "hubspot_accredible"]


@pytest.fixture(scope="module")
def sample_pages(tmp_path_factory):
    root = tmp_path_factory.mktemp("words-samples")
    pages = {}
    for name in SAMPLES:
        folder = root / name
        folder.mkdir()
        path = (write_salesforce_engagement(folder) if name == "salesforce"
                else write_sample_engagement(folder, name))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            engagement = Engagement.from_yaml(path, use_cache=False)
            pages.update(_render(engagement, run_all(engagement, seed=0), folder / name, "client"))
    return pages


def test_the_glossary_fixes_one_word_per_concept_and_rejects_variants():
    words = glossary()
    assert len(words) >= 15, words
    assert words["register = u"] == ["je", "jij", "jouw", "jullie"]
    assert "opdracht" in words["engagement = traject"]


@pytest.mark.parametrize("edition", ["client", "training"])
def test_the_demo_pages_hold_no_quoted_phrase_and_no_rejected_variant(demo_pages, edition):
    assert not problems(demo_pages[edition]), problems(demo_pages[edition])


def test_the_samples_dutch_pages_hold_no_quoted_phrase_and_no_rejected_variant(sample_pages):
    assert len(sample_pages) == 8 * len(SAMPLES)
    assert not problems(sample_pages), problems(sample_pages)


def test_the_check_finds_each_quote_and_variant_it_is_meant_to_find():
    """The check itself: a page with the issue's sentences fails on each of them."""
    html = ("<p>Conversie — significant naast doel.</p><p>tegen 47,7% voor het gangbare segment van "
            "eigenaar</p><p>17 terug naar een eerdere fase (0%)</p><p>zet onder `changes:`</p>"
            "<p>De funnel van de opdracht, en hoe je een test doet.</p>"
            "<p>funnel-toolkit 0.1.0</p><p><code>seed=1</code></p>")
    found = problems({"page": html})
    for expected in ("quoted 'significant naast doel'", "quoted 'gangbare segment van'",
                     "quoted '(0%)'", "quoted '`'", "'funnel' (funnel = trechter)",
                     "'opdracht' (engagement = traject)", "'je' (register = u)"):
        assert any(expected in line for line in found), (expected, found)
    # the product's name and code are not prose
    assert not any("seed" in line for line in found)
    assert sum("'funnel'" in line for line in found) == 1
