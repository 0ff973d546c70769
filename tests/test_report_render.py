"""The report rendered from step results: a small hand-made set of results (the StepResult contract,
numbers worked out by hand) rendered in Dutch and English, client and training, and read back as a
reader sees it. In-process and fast: no step is computed, no browser started."""

from __future__ import annotations

import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from conftest import MAPPING, PHASES
from report_text import client_page_problems, read_page

from toolkit.base.phases import PhaseModel
from toolkit.report.render import css_string, render_report, step_page_name
from toolkit.steps.result import StepResult

MODEL = PhaseModel.from_mapping(PHASES, MAPPING)


def _engagement(language: str = "nl", client: str = "Acme Installaties B.V.") -> SimpleNamespace:
    config = SimpleNamespace(name="acme-2026", client=client, currency="EUR", language=language,
                             report=SimpleNamespace(edition="client"))
    reconciliation = pd.DataFrame({"source": ["crm"], "file": ["/srv/clients/acme/export.csv"],
                                   "rows_in": [1234], "rows_used": [1200],
                                   "rows_quarantined": [34]})
    quarantine = pd.DataFrame({"source": ["crm"] * 34, "reason": ["duplicate of row 3"] * 34,
                               "reason_code": pd.Categorical(["duplicate_row"] * 34)})
    return SimpleNamespace(config=config, name="acme-2026", phase_model=MODEL,
                           reconciliation=reconciliation, quarantine=quarantine,
                           records=pd.DataFrame({"record_id": [f"R{i}" for i in range(1000)]}),
                           as_of=pd.Timestamp("2026-10-31"))


def _results() -> dict[int, StepResult]:
    # 1000 records entered; 361 of them reached lead: 36.1%, Wilson 95% interval 33.2-39.1%
    funnel = pd.DataFrame({
        "phase": ["target", "lead", "opportunity", "proposal", "order"],
        "label": ["Target", "Lead", "Potentieel", "Offerte", "Order"],
        "reached": [1000, 361, 180, 60, 24],
        "from_phase": [np.nan, "target", "lead", "opportunity", "proposal"],
        "n": [np.nan, 1000.0, 361.0, 180.0, 60.0],
        "successes": [np.nan, 361.0, 180.0, 60.0, 24.0],
        "open": [np.nan, 20.0, 10.0, 5.0, 3.0], "lost": [np.nan, 619.0, 171.0, 115.0, 33.0],
        "rate": [np.nan, 0.361, 180 / 361, 60 / 180, 0.4],
        "ci_low": [np.nan, 0.332, 0.447, 0.268, 0.283],
        "ci_high": [np.nan, 0.391, 0.550, 0.405, 0.529],
        "cumulative_rate": [1.0, 0.361, 0.180, 0.060, 0.024],
        "cumulative_ci_low": [1.0, 0.332, 0.157, 0.047, 0.016],
        "cumulative_ci_high": [1.0, 0.391, 0.205, 0.076, 0.035]})
    baseline = StepResult(step=1, key="baseline",
                          tables={"reconciliation": _engagement().reconciliation, "funnel": funnel},
                          conclusions_by_language={"en": ["1,234 rows; 34 set aside."],
                                                   "nl": ["1.234 regels; 34 apart gezet."]})
    tests = pd.DataFrame({"step": [0, 2], "from_phase": ["target", "opportunity"],
                          "to_phase": ["lead", "proposal"], "reference": ["target", "target"],
                          "rate": [0.361, 1 / 3], "ci_low": [0.332, 0.268],
                          "ci_high": [0.391, 0.405], "reference_rate": [0.40, 0.45],
                          "p_adjusted": [0.0066, 2e-9], "below": [True, True]})
    table = pd.DataFrame({
        "rank": [1, 2], "area": ["bottleneck", "segment"],
        "finding": ["opportunity -> proposal converts 33.3% against 45.0% for the target",
                    "lead_source = fair converts worse"],
        "evidence": ["n=180", "n=90"], "extra_orders": [8.4, 2.0],
        "extra_orders_low": [3.1, -0.4], "extra_orders_high": [13.9, 4.1],
        "extra_revenue": [168_000.0, 40_000.0], "action_hint": ["", ""],
        "from_phase": ["opportunity", "target"], "to_phase": ["proposal", "lead"],
        "attribute": [np.nan, "lead_source"], "segment": [np.nan, "fair"],
        "rate": [1 / 3, 0.25], "reference_rate": [0.45, 0.38],
        "reference": ["target", "typical segment"]})
    verdict = SimpleNamespace(case="leak", evidence=pd.DataFrame(
        columns=["rule", "quantity", "value", "reference_value", "points_to", "note"]))
    fruit = SimpleNamespace(verdict=verdict, steps=tests, table=table)
    diagnosis = StepResult(step=5, key="diagnosis", tables={"fruit": table},
                           results={"fruit": fruit},
                           problems={"action yield": "the records have no `action` attribute",
                                     "mix": "only one year of history"},
                           conclusions_by_language={"en": ["Leak."], "nl": ["Lek."]})
    card = pd.DataFrame({
        "kpi": ["conversion_target_lead", "conversion_opportunity_proposal"],
        "label": ["Conversion Target → Lead", "Conversion Potentieel → Offerte"],
        "unit": ["%", "%"], "period": ["2026-07", "2026-07"], "value": [0.361, 1 / 3],
        "ci_low": [0.332, 0.268], "ci_high": [0.391, 0.405], "n": [1000, 180],
        "target": [0.40, 0.30], "status": ["significantly below target", "on target"],
        "status_code": ["below_target", "on_target"], "trend": ["stable", "improving"]})
    kinds = pd.DataFrame({"kpi": ["conversion_target_lead", "conversion_opportunity_proposal"],
                          "label": ["Conversion Target → Lead", "Conversion Potentieel → Offerte"],
                          "kind": ["conversion", "conversion"],
                          "from_phase": ["target", "opportunity"],
                          "to_phase": ["lead", "proposal"]})
    kpis = StepResult(step=3, key="kpis", tables={"kpi set": kinds},
                      conclusions_by_language={"en": ["Short."], "nl": ["Tekort."]})
    steering = StepResult(step=7, key="steering", tables={"scorecard": card},
                          conclusions_by_language={"en": ["Judged."], "nl": ["Beoordeeld."]})
    return {1: baseline, 3: kpis, 5: diagnosis, 7: steering}


@pytest.fixture(scope="module")
def dutch(tmp_path_factory):
    out = tmp_path_factory.mktemp("nl")
    render_report(_engagement("nl"), _results(), out_dir=out, edition="client",
                  date=pd.Timestamp("2026-11-30").date(), print_page=True)
    return out


@pytest.fixture(scope="module")
def english(tmp_path_factory):
    out = tmp_path_factory.mktemp("en")
    render_report(_engagement("en"), _results(), out_dir=out, language="en", edition="client",
                  date=pd.Timestamp("2026-11-30").date())
    return out


def _page(folder, name="index.html"):
    return read_page((folder / name).read_text(encoding="utf-8"))


def test_the_index_page_is_the_executive_summary_in_dutch(dutch):
    text = _page(dutch).text
    assert "Oordeel" in text and "Lek: genoeg leads" in text
    # the verdict's evidence, on the leak side first: 60 of 180 = 33.3% against the 45% target
    assert "Potentieel → Offerte converteert 33,3% (95%-interval 26,8–40,5%) tegen 45,0% voor " \
           "het doel; gecorrigeerde p < 0,001" in text
    # top actions sized with their range; an amount never below zero
    assert "8 (3–14)" in text and "€ 168.000 (€ 62.000–278.000)" in text
    assert "2 (0–4)" in text and "€ 40.000 (€ 0–82.000)" in text  # -0.4 orders: shown as 0
    # the attribute by its label (a role the method knows, in Dutch), the value as the client's word
    assert "Leadbron ‘fair’ converteert 25,0% bij Target → Lead" in text
    # the scorecard with a status per KPI, its colour from the code
    html = (dutch / "index.html").read_text(encoding="utf-8")
    assert '<td class="bad"><span class="dot"></span>significant onder het doel</td>' in html
    assert '<td class="good"><span class="dot"></span>doel gehaald</td>' in html
    assert "Conversie Target → Lead" in text  # the toolkit's KPI name, translated
    # the process schema with the conversion on each arrow (step 4 absent: step 1's funnel)
    assert "36,1%" in text and "49,9%" in text  # 180 / 361 = 49.86%
    # the data-quality line: rows used and set aside
    assert "1.234 rijen in de exports: 1.200 gebruikt, 34 met een reden apart gezet. 1.000 " \
           "records gemeten tot 31 oktober 2026." in text


def test_the_same_results_in_english(english):
    text = _page(english).text
    assert "Leak: plenty of leads" in text
    assert "1,234 rows in the exports: 1,200 used, 34 set aside with a reason" in text
    assert "Conversion Target → Lead" in text and "significantly below target" in text


def test_a_step_page_shows_tables_through_the_formatter_with_labels(dutch):
    page = _page(dutch, step_page_name(1))
    headers = [h for hs in page.headers for h in hs]
    assert "Conversie per stap (95%-interval)" in headers and "Rijen in" in headers
    assert "rows_in" not in headers and "ci_low" not in headers
    text = page.text
    assert "36,1% (33,2–39,1%)" in text  # rate with its interval, one decimal, Dutch
    assert "1.234" in text  # a count with a thousands separator
    assert "export.csv" in text and "/srv/clients" not in text  # a file by its name only
    assert "1.234 regels; 34 apart gezet." in text  # the step's Dutch conclusions


def test_a_part_the_step_could_not_compute_says_so(dutch, tmp_path):
    # the client reads that a part is missing and where the reason is; the training its reason
    text = _page(dutch, step_page_name(5)).text
    # the action yield, under its own heading; the mix, which has none, in one line at the end
    assert "Niet berekend met deze gegevens; de reden staat in de werkmap (blad Notities)." in text
    assert "Eén onderdeel van deze stap kon met deze gegevens niet worden berekend; de reden " \
           "staat in de werkmap (blad Notities)." in text
    assert "`action`" not in text and "one year" not in text
    render_report(_engagement("en"), _results(), out_dir=tmp_path, language="en",
                  edition="training")
    # the YAML key shows as code, never as literal backticks
    assert "the records have no action attribute" in _page(tmp_path, step_page_name(5)).text
    html = (tmp_path / step_page_name(5)).read_text(encoding="utf-8")
    assert "the records have no <code>action</code> attribute" in html and "`" not in html


@pytest.mark.parametrize("language", ["nl", "en"])
def test_client_pages_pass_the_visible_text_checks(language, dutch, english):
    folder = dutch if language == "nl" else english
    pages = sorted(folder.glob("*.html"))
    assert len(pages) >= 5
    problems = {page.name: client_page_problems(page.read_text(encoding="utf-8"),
                                                language=language, demo_allowed=False)
                for page in pages if page.name != "print.html"}
    assert not any(problems.values()), problems


def test_the_training_edition_adds_the_method_notes_and_exercises(tmp_path):
    render_report(_engagement("en"), _results(), out_dir=tmp_path, language="en",
                  edition="training")
    text = _page(tmp_path, step_page_name(1)).text
    assert "For the training" in text and "Exercises" in text and "Method notes" in text
    client = _page(tmp_path.parent / tmp_path.name, "index.html").text
    assert "training edition" in client


def test_the_print_page_holds_every_page_with_the_header_for_the_pdf(dutch):
    html = (dutch / "print.html").read_text(encoding="utf-8")
    assert html.count('<article class="step-page">') == 4
    assert 'content: "Acme Installaties B.V. · 30 november 2026"' in html
    assert "counter(page)" in html and "counter(pages)" in html


def test_a_client_name_cannot_close_the_css_string_of_the_print_header():
    assert css_string('A"; } body { x: "</style><script>') == (
        '"A\\22 ; } body { x: \\22 \\3c /style\\3e \\3c script\\3e "')


def test_markup_in_a_value_from_the_data_stays_text(tmp_path):
    engagement = _engagement("en", client="<img src=x onerror=alert(1)>")
    results = _results()
    render_report(engagement, results, out_dir=tmp_path, language="en")
    html = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_the_checks_fail_on_a_page_as_the_notebooks_rendered_it():
    """Today's step pages: a notebook's DataFrame outputs and markdown with the code taken out."""
    frame = pd.DataFrame({"extra_orders_low": [48.951, np.nan], "p_value": [3.986e-01, 7.9e-56],
                          "rate": [0.068, 0.0681234], "file": ["/work/main/data/demo/crm.csv",
                                                               "Van Dijk Installatietechniek"]},
                         index=[172, 173])
    with pd.option_context("display.precision", 6):  # pandas' default, whatever ran before
        table = frame.to_html()
    html = ("<p><em>Parameters</em> (papermill fills these in for a client; the defaults run the "
            "demo company):</p>" + table + "<h2>Exercises</h2><p>Rerun with seed=1.</p>"
            "<p>Share 36.1% of 1,234 records, not steady.</p>")
    problems = " | ".join(client_page_problems(html, language="nl", demo_allowed=False))
    for expected in ("a missing value shown as a word: 'NaN'", "scientific notation",
                     "more than four decimals", "snake_case identifier: 'extra_orders_low'",
                     "an absolute path: '/work/main/data/demo/crm.csv'", "training or tooling",
                     "a demo name on a client engagement: 'Van Dijk'", "an index column",
                     "an English sentence in the Dutch edition",
                     "a percentage in English format", "thousands with a comma"):
        assert expected in problems, (expected, problems)


def test_client_conclusions_leave_out_yaml_keys_and_code():
    from toolkit.present.client import for_client
    line = ("What would decide it: conversion targets per step (\\`conversion\\_<from>\\_<to>\\` "
            "under \\`targets:\\`); market benchmarks per step (\\`benchmark\\_stages:\\`).")
    assert for_client(line) == ("What would decide it: conversion targets per step; market "
                                 "benchmarks per step.")
    assert for_client("declare the `lead_source` column") == "declare the lead source column"
    # "e.g." inside the instruction does not end it: the whole instruction goes, not half of it
    line = ("No process change is declared, so no before/after evaluation is made. To evaluate one, "
            "add an entry under `changes:` in the engagement YAML with `date:` (the day it took "
            "effect, e.g. 2025-03-01), `step:` (e.g. lead -> opportunity), and run the step again.")
    assert for_client(line) == ("No process change is declared, so no before/after evaluation "
                                "is made.")
    assert for_client("a plain (aside) stays") == "a plain (aside) stays"


def test_an_attribute_is_shown_by_its_label_not_its_yaml_key():
    from toolkit.present.format import formatter
    from toolkit.present.tables import attribute_headers, attribute_label, display_table
    nl, en = formatter("nl"), formatter("en")
    config = SimpleNamespace(sources=[SimpleNamespace(
        attributes={"owner": "Eigenaar", "vestiging": "Vestiging", "deal_source": "DEAL_SOURCE",
                    "hs_team": "hs_team_id"}, records=None)], lookups=[])
    headers = attribute_headers(SimpleNamespace(config=config))
    # a role the method knows, in the report's language; else the client's header when it reads
    # as words; else the key in words
    assert [attribute_label(a, nl, headers) for a in ("owner", "vestiging", "deal_source",
                                                      "hs_team")] == [
        "Eigenaar", "Vestiging", "Herkomst van de deal", "Hs team"]
    assert attribute_label("owner", en, headers) == "Owner"
    frame = pd.DataFrame({"attribute": ["owner"], "segment": ["action=network"]})
    shown = display_table(frame, ["attribute", "segment_value"], fmt=nl, attributes=headers)
    assert [c.text for c in shown.rows[0]] == ["Eigenaar", "Actie: network"]


def test_a_label_the_yaml_declares_names_the_attribute_everywhere():
    from toolkit.present.format import formatter
    from toolkit.present.tables import attribute_headers, attribute_label, display_table
    nl, en = formatter("nl"), formatter("en")
    config = SimpleNamespace(
        sources=[SimpleNamespace(attributes={"owner": "Eigenaar", "vestiging": "Vestiging",
                                             "deal_source": "DEAL_SOURCE"}, records=None)],
        lookups=[], report=SimpleNamespace(attribute_labels={"owner": "Verkoper",
                                                             "deal_source": "Leadbron"}))
    headers = attribute_headers(SimpleNamespace(config=config))
    # the declared label wins over the method's role word and over the column header, in every
    # language (it is the client's word); an attribute without one is named as before
    assert [attribute_label(a, nl, headers) for a in ("owner", "deal_source", "vestiging")] == [
        "Verkoper", "Leadbron", "Vestiging"]
    assert attribute_label("owner", en, headers) == "Verkoper"
    # a column holding the attribute itself is headed by the label
    frame = pd.DataFrame({"record_id": ["R1"], "owner": ["P-1"], "attribute": ["owner"]})
    shown = display_table(frame, ["attribute", "owner"], fmt=nl, attributes=headers)
    assert shown.headers[1] == "Verkoper" and shown.rows[0][0].text == "Verkoper"
    assert display_table(frame, ["owner"], fmt=nl).headers == ["Eigenaar"]
    # and so is a note about the attribute, written from its code
    from toolkit.base.vocabulary import Reason
    from toolkit.present.problems import problem_text
    note = Reason("Attribute 'deal_source' has 900 distinct values ...", "attribute_left_out",
                  {"attribute": "deal_source", "count": 900, "n": 50})
    assert problem_text(note, nl, attributes=headers).startswith("Kenmerk Leadbron heeft 900 ")
    assert problem_text(note, en, attributes=headers, from_code=True).startswith(
        "Attribute Leadbron has 900 distinct values")


def test_a_pseudonym_is_no_number_in_scientific_notation():
    # an owner pseudonymised on load reads P-<hex>; its digits are no 6e17
    page = "<table><tr><th>Eigenaar</th></tr><tr><td>P-f6e17431fd</td></tr></table><p>1.001e+07</p>"
    found = client_page_problems(page, language="nl", demo_allowed=False)
    assert [p for p in found if "scientific" in p] == [
        "a number in scientific notation: '1.001e+0' in '1.001e+07'"]


def test_client_conclusions_leave_out_what_to_write_in_the_engagement_file():
    """The board reads that no change was named, not how an analyst declares one."""
    from toolkit.present.client import for_client
    dutch = ("Er is geen proceswijziging opgegeven, dus er is geen voor/na-evaluatie gemaakt. Om "
             "er een te evalueren: zet onder \\`changes:\\` in de YAML van de opdracht een item "
             "met \\`date:\\`, en voer de stap opnieuw uit.")
    assert for_client(dutch) == ("Er is geen proceswijziging opgegeven, dus er is geen "
                                  "voor/na-evaluatie gemaakt.")
    # a decimal point or an aside does not end a sentence; a line that is only the instruction
    # keeps it (dropping it would leave nothing)
    assert for_client("Offerte converts 23.6% (e.g. 40.0% in 2024). Add targets under "
                       "`targets:` in the engagement YAML.") == (
        "Offerte converts 23.6% (e.g. 40.0% in 2024).")
    only = "no record could be used: correct the export or the engagement YAML"
    assert for_client(only) == only


def test_a_short_table_is_kept_whole_on_a_printed_page(dutch):
    # the PDF broke a table so that one row stood alone on the next page: a table of at most 15
    # rows carries `short`, which the print style keeps whole; a long one breaks between rows
    html = (dutch / "print.html").read_text(encoding="utf-8")
    tables = re.findall(r'<table class="data([^"]*)">(.*?)</table>', html, flags=re.DOTALL)
    assert tables
    for classes, body in tables:
        rows = body.count("<tr>") - 1  # the header row
        assert ("short" in classes.split()) == (rows <= 15) or "actions" in classes.split(), (
            classes, rows)
    css = html[html.index("@media print"):]
    assert "table.data.short" in css and "break-inside: avoid" in css


HOSTILE_VALUES = ("<script>alert(1)</script>", "**x**", '=HYPERLINK("http://evil.example","c")',
                  "[a](javascript:alert(2))", "Fish & Chips <b>", "`rm -rf`")


@pytest.mark.parametrize("edition", ["client", "training"])
def test_a_conclusion_is_a_plain_sentence_the_page_escapes_once(edition):
    """No Markdown round trip: a conclusion's line is plain text (an owner's or a segment's value
    as typed); the page's template escapes it once (Jinja's autoescape, markupsafe), the
    notebook's Markdown escapes it once (the bullets' str), and each shows the value as typed."""
    import html as html_module

    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    from toolkit.present.narrative import bullets
    from toolkit.report.render import _StepView, page_environment

    lines = [f"Owner ‘{value}’ converts 21.3% against 47.7% for the typical owner"
             for value in HOSTILE_VALUES]
    step = _StepView(number=5, key="diagnosis", title="Diagnosis", purpose="Why",
                     page="05_diagnosis.html", conclusions=lines)
    macro = page_environment("en").get_template("_parts.html.j2").module.step_body
    page = str(macro(step, edition, "en"))
    items = re.findall(r"<li>(.*?)</li>", page, flags=re.DOTALL)
    assert len(items) == len(HOSTILE_VALUES)
    for item, line, value in zip(items, lines, HOSTILE_VALUES, strict=True):
        tags = set(re.findall(r"</?([a-zA-Z][\w-]*)", item))
        assert tags <= {"code"}, (tags, item)  # no script, link, bold or b from the value
        assert "&amp;amp;" not in item and "&amp;lt;" not in item  # escaped once, not twice
        shown = html_module.unescape(re.sub(r"</?code>", "", item))
        assert shown == (line if "`" not in value else line.replace("`", ""))
    assert "Fish &amp; Chips &lt;b&gt;" in page and "<code>rm -rf</code>" in page
    # the same lines in a notebook: Markdown escaped once, shown as typed, no markup
    notebook = markdown2html_mistune(bullets(lines))
    assert set(re.findall(r"</?([a-zA-Z][\w-]*)", notebook)) <= {"ul", "li", "p"}, notebook
    shown = [html_module.unescape(re.sub(r"<[^>]+>", "", li)).strip()
             for li in re.findall(r"<li>(.*?)</li>", notebook, flags=re.DOTALL)]
    assert shown == lines
