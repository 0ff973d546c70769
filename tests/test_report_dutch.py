"""The Dutch edition on engagements that reach the paths the demo never shows: rows set aside, a part
that cannot be computed (too few records, a lead list without dates), declared process changes.
Every sentence a reader sees (conclusions, pages, workbook cells) must be Dutch: the word-list check
of report_text on the visible text, and on each text cell of the workbook."""

from __future__ import annotations

import pickle
import re
import warnings
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import yaml
from conftest import DEMO
from edge import write_case
from report_text import client_page_problems, english_words

from toolkit import Engagement
from toolkit.base.vocabulary import PROBLEMS, Reason
from toolkit.present.format import formatter
from toolkit.present.problems import PROBLEM_WORDS, UNCODED, problem_text
from toolkit.report import problem_notes, write_workbook
from toolkit.report.render import render_report
from toolkit.steps import run_all

# A lead list of eight leads without dates (a repeated lead and a blank row are set aside).
LEADS = "Lead;Bron;Omgezet\nL1;web;1\nL2;web;0\nL3;web;0\nL4;beurs;1\nL5;beurs;1\nL6;beurs;0\n" \
        "L7;web;1\nL8;;0\n;;\nL2;web;0\n"


def _lead_list(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "leads.csv").write_text(LEADS, encoding="utf-8")
    doc = {"name": "leads", "language": "nl",
           "phases": [{"key": "lead", "label": "Lead"}, {"key": "customer", "label": "Klant"}],
           "stage_mapping": {},
           "sources": [{"name": "leads", "path": "leads.csv", "shape": "snapshot", "dated": False,
                        "columns": {"record_id": "Lead", "is_won": "Omgezet"},
                        "attributes": {"bron": "Bron"}}]}
    path = folder / "engagement.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def _demo_with_changes(folder: Path) -> Path:
    """The demo with two declared changes (its answer key plants none: both read "no change")
    and a third dated after the last mature cohort (it cannot be evaluated yet)."""
    folder.mkdir(parents=True, exist_ok=True)
    doc = yaml.safe_load((DEMO / "engagement.yaml").read_text(encoding="utf-8"))
    for source in doc["sources"]:
        source["path"] = str(DEMO / source["path"])
    doc["changes"] = [
        {"date": "2026-03-01", "description": "Nieuwe offerte-opvolging",
         "step": "opportunity -> proposal"},
        {"date": "2025-09-01", "description": "Belscript leads", "step": "lead"},
        {"date": "2026-10-15", "description": "Nieuw CRM", "step": "target"}]
    path = folder / "engagement.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("dutch")
    paths = {"quarantined": write_case(root / "quarantined", "quarantined"),
             "one_record": write_case(root / "one_record", "one_record"),
             "leads": _lead_list(root / "leads"),
             "changes": _demo_with_changes(root / "changes")}
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, path in paths.items():
            engagement = Engagement.from_yaml(path, use_cache=False)
            out[name] = (engagement, run_all(engagement, seed=0), root / name)
    return out


CASES = ["quarantined", "one_record", "leads", "changes"]


def _english(lines) -> list[str]:
    return [line for line in lines if len(set(english_words(line))) >= 2]


@pytest.mark.parametrize("case", CASES)
def test_the_dutch_conclusions_hold_no_english_sentence(runs, case):
    _, results, _ = runs[case]
    lines = [line for result in results.values() for line in result.conclusions("nl")]
    assert lines and not _english(lines), _english(lines)


def test_a_part_that_cannot_be_computed_says_why_in_dutch(runs):
    _, results, _ = runs["one_record"]
    lines = results[6].conclusions("nl") + results[7].conclusions("nl")
    assert ("Geen scenario: er kon geen knelpunt worden bepaald: geen enkele stap heeft genoeg "
            "volgroeide records om met een referentie te vergelijken: te weinig records voor een "
            "conclusie") in lines
    assert any(line.startswith("Geen regelkaart: te weinig volgroeide records om een conversie "
                               "te kiezen") for line in lines)
    # the English edition keeps the library's own sentence
    assert ("No scenario: no bottleneck could be sized: no transition has enough mature records to "
            "compare with a reference: too few records to conclude") in results[6].conclusions("en")
    _, leads, _ = runs["leads"]
    assert any(line.startswith("Geen cohorten: daarvoor zijn datums nodig") for line in
               leads[4].conclusions("nl"))


def test_a_declared_change_is_judged_in_dutch_from_its_effect_code(runs):
    _, results, _ = runs["changes"]
    plan = results[6].results["plan"]
    assert [c.effect for c in plan.changes] == ["none", "none"]
    assert all(c.method in set(c.comparisons["method"]) and c.mde > 0 for c in plan.changes)
    lines = results[6].conclusions("nl")
    judged = [line for line in lines if line.startswith("Nieuwe offerte-opvolging (1 maart 2026): ")]
    assert len(judged) == 1, lines
    assert ("Geen aantoonbare verandering in de conversie Kans (opportunity) → Offerte "
            "(proposal) (schatting") in judged[0]
    # the demo's action mix moved between before and after (its planted Simpson's paradox): the
    # change is judged within the actions, and the sentence says so (issue 21 item 6)
    assert "voor/na binnen elk segment van Actie, waarvan de mix verschoof" in judged[0]
    # the third change is dated after the last mature cohort: the reason from its code
    assert any(line.startswith("De wijziging van 15 oktober 2026 (Nieuw CRM, stap Target "
                               "(suspects) → Lead) is nog niet te beoordelen") for line in lines)
    english = results[6].conclusions("en")
    assert any(line.startswith("Nieuwe offerte-opvolging (01-03-2026): No detectable change in "
                               "the conversion opportunity →") for line in english)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("edition", ["client", "training"])
def test_the_dutch_pages_pass_the_checks(runs, case, edition):
    engagement, results, folder = runs[case]
    out = folder / f"pages-{edition}"
    render_report(engagement, results, out_dir=out, language="nl", edition=edition,
                  date=pd.Timestamp("2026-11-30").date())
    problems = {}
    for page in sorted(out.glob("*.html")):
        found = client_page_problems(page.read_text(encoding="utf-8"), language="nl",
                                     demo_allowed=True)
        if edition == "training":
            # the checks the notebook runs and names in code are code; the rest reads Dutch, the
            # method notes and exercises included (tooling words and identifiers are the point)
            html = re.sub(r"<pre>.*?</pre>|<code>.*?</code>", "", page.read_text(encoding="utf-8"),
                          flags=re.S)
            found = [p for p in client_page_problems(html, language="nl", demo_allowed=True)
                     if p.startswith(("an English sentence", "a percentage in English",
                                      "thousands with a comma"))]
        else:
            # the test engagements are named as identifiers ("one_record")
            found = [p for p in found if f"'{engagement.name}'" not in p]
        if found:
            problems[page.name] = found
    assert not problems, problems


def test_every_problem_code_has_its_words_and_reasons_travel_by_pickle():
    assert set(PROBLEMS) == set(PROBLEM_WORDS) | {"changes_not_evaluated"}
    inner = Reason("no month has mature records yet: too few records to conclude",
                   "no_mature_month")
    outer = Reason("no period report without a conversion to steer on: " + inner,
                   "no_period_report", {"why": inner})
    back = pickle.loads(pickle.dumps(outer))
    assert back == outer and back.code == "no_period_report" and back.values["why"].code == \
        "no_mature_month"
    nl = formatter("nl")
    assert problem_text(back, nl) == ("geen perioderapport zonder een conversie om op te sturen: "
                                      "nog geen maand heeft volgroeide records: te weinig records "
                                      "voor een conclusie")
    assert problem_text(back, formatter("en")) == str(outer)
    # a reason without a code never reaches a Dutch reader in English
    assert problem_text("scorecard: a rate target written as 40", nl) == nl.gettext(UNCODED)
    with pytest.raises(KeyError, match="not_a_code"):
        Reason("x", "not_a_code")


def test_the_workbook_notes_say_in_dutch_what_was_not_computed(runs):
    engagement, results, _ = runs["one_record"]
    notes = problem_notes(engagement, results, formatter("nl"))
    assert "Stap 6 (Verbeteren en herinrichten), scenario niet berekend: er kon geen knelpunt " \
           "worden bepaald: geen enkele stap heeft genoeg volgroeide records om met een " \
           "referentie te vergelijken: te weinig records voor een conclusie" in notes
    assert not _english(notes), _english(notes)


# Columns that hold codes or the client's own values (keys an analyst filters on), not sentences.
_CODE_COLUMNS = ("kpi", "kind", "status_code", "reason_code", "phase", "from_phase", "to_phase",
                 "adjust", "segment", "record_id", "value", "source", "file", "column",
                 "owner")


@pytest.mark.parametrize("case", CASES)
def test_the_dutch_workbook_cells_hold_no_english_sentence(runs, case):
    from toolkit.report.sheets import header
    engagement, results, folder = runs[case]
    nl = formatter("nl")
    path = write_workbook(engagement, out_path=folder / "werkmap.xlsx", results=results,
                          language="nl", notes=problem_notes(engagement, results, nl))
    skipped = {header(c, nl) for c in _CODE_COLUMNS}
    english = []
    # read fully, then closed: a read-only workbook left open warns when collected, and a step
    # run later in this process would record that warning as a note of its own
    book = openpyxl.load_workbook(path)
    book.close()
    for sheet in book.worksheets:
        rows = list(sheet.iter_rows(values_only=True))
        names = [str(h) for h in rows[0]] if rows else []
        for row in rows[1:]:
            for name, cell in zip(names, row, strict=False):
                if isinstance(cell, str) and name not in skipped and _english([cell]):
                    english.append(f"{sheet.title} / {name}: {cell[:100]}")
    assert not english, english[:10]


def test_a_count_of_one_reads_in_the_singular(runs):
    _, results, _ = runs["one_record"]
    english, dutch = " ".join(results[1].conclusions("en")), " ".join(results[1].conclusions("nl"))
    assert "Audit of 1 record:" in english and "Controle van 1 record:" in dutch
    assert "1 records" not in english and "1 records" not in dutch


def test_a_note_on_the_data_keeps_its_code_and_reads_in_dutch_in_the_workbook():
    import warnings as _warnings

    from toolkit.base.exceptions import NoteWarning
    from toolkit.report.sheets import in_language

    # a note step 5 keeps: the caught warning becomes a Reason with the warning's code
    with _warnings.catch_warnings(record=True) as caught:
        _warnings.simplefilter("always")
        _warnings.warn(NoteWarning("Attribute 'deal_id' has 812 distinct values (more than 50), "
                                   "so it looks like an identifier", "attribute_left_out",
                                   {"attribute": "deal_id", "count": 812, "n": 50}), stacklevel=1)
    note = Reason(str(caught[0].message), caught[0].message.code, caught[0].message.values)
    frame = pd.DataFrame({"note": pd.Series([note, "a plain note stays as written"],
                                            dtype=object)})
    shown = in_language(frame, formatter("nl"))
    assert shown["note"].tolist() == [
        "Kenmerk Deal id heeft 812 verschillende waarden (meer dan 50); het lijkt een sleutel of "
        "vrije tekst en is buiten de segmentscan gelaten.", "a plain note stays as written"]
    # the English workbook writes it from its code too: the attribute by its label, not its key
    assert in_language(frame, formatter("en"))["note"].tolist() == [
        "Attribute Deal id has 812 distinct values (more than 50), so it looks like an identifier "
        "or free text and was left out of the scan.", "a plain note stays as written"]


def test_the_declared_changes_are_a_table_on_the_step_6_page(runs, tmp_path):
    from report_text import read_page
    engagement, results, _ = runs["changes"]
    render_report(engagement, results, out_dir=tmp_path, language="nl", edition="client",
                  pages=[6], date=pd.Timestamp("2026-11-30").date())
    page = read_page((tmp_path / "06_improvement.html").read_text(encoding="utf-8"))
    table = next(rows for rows, head in zip(page.tables, page.headers, strict=True)
                 if head and head[0] == "Proceswijziging")
    cells = [[text for _, text in row] for row in table]
    assert [row[:4] for row in cells] == [
        ["Nieuwe offerte-opvolging", "1 mrt 2026", "Kans (opportunity) → Offerte (proposal)",
         "geen aantoonbare verandering"],
        ["Belscript leads", "1 sep 2025", "Lead → Kans (opportunity)",
         "geen aantoonbare verandering"]]
    assert all(row[4].endswith(")") and "procentpunt" in row[4] for row in cells)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        engagement = Engagement.from_yaml(DEMO / "engagement.yaml")
        return engagement, run_all(engagement, seed=0), tmp_path_factory.mktemp("demo")


@pytest.mark.parametrize("language", ["en", "nl"])
@pytest.mark.parametrize("case", ["demo", *CASES])
def test_the_workbook_names_every_column_in_words_and_writes_no_key(runs, demo_run, case,
                                                                     language):
    """The board reads the workbook as it reads the pages: headers in words (no library column
    name, none left empty), and no text cell outside the code columns with an e-notation number or
    a snake_case identifier, in English as in Dutch."""
    from report_text import _SCIENTIFIC, _SNAKE

    from toolkit.report import workbook_sheets
    from toolkit.report.sheets import header, known_header
    engagement, results, folder = demo_run if case == "demo" else runs[case]
    fmt = formatter(language)
    # every column of the workbook's own sheets has its name in words (no fallback to its key)
    unnamed = {f"{sheet}: {column}" for sheet, frame in workbook_sheets(results).items()
               for column in frame.columns if known_header(column) is None}
    assert not unnamed, unnamed
    path = write_workbook(engagement, out_path=folder / f"words-{language}.xlsx", results=results,
                          language=language, notes=problem_notes(engagement, results, fmt))
    book = openpyxl.load_workbook(path)
    book.close()
    codes = {header(c, fmt) for c in _CODE_COLUMNS}
    found = []
    for sheet in book.worksheets:
        rows = list(sheet.iter_rows(values_only=True))
        names = [h if isinstance(h, str) else "" for h in rows[0]]
        found += [f"{sheet.title}: header {h!r}" for h in names
                  if not h.strip() or _SNAKE.search(h)]
        for row in rows[1:]:
            for name, cell in zip(names, row, strict=False):
                if (not isinstance(cell, str) or name in codes or cell == engagement.name):
                    continue
                # a YAML key the analyst must type (`orders_per_month` under `targets`) is
                # written as code, between backticks, in both languages
                text = re.sub(r"`[^`]*`", "", cell)
                match = _SCIENTIFIC.search(text) or _SNAKE.search(text)
                if match:
                    found.append(f"{sheet.title} / {name}: {match.group(0)!r} in {cell[:100]!r}")
    assert not found, found[:10]


@pytest.mark.parametrize("language", ["en", "nl"])
def test_a_quarantine_reason_is_written_from_its_code_and_column_without_the_value(runs, language):
    from toolkit.report.sheets import header
    engagement, results, folder = runs["quarantined"]
    fmt = formatter(language)
    path = write_workbook(engagement, out_path=folder / f"reasons-{language}.xlsx",
                          results=results, language=language)
    frame = pd.read_excel(path, sheet_name=fmt.gettext("Quarantine"), dtype=str)
    column, value, reason, code = (header(c, fmt) for c in ("column", "value", "reason",
                                                            "reason_code"))
    rows = frame[frame[value].notna() & frame[column].notna()]
    assert len(rows) >= 2, frame
    for _, row in rows.iterrows():
        # the row's own `value` cell shows what was read; the reason never repeats it
        assert row[value] not in row[reason], (row[value], row[reason])
        words = {"en": "(column {})", "nl": "(kolom {})"}[language].format(row[column])
        assert row[reason].endswith(words), row[reason]
    assert set(frame[code]) <= set(engagement.quarantine["reason_code"].astype(str))


@pytest.mark.parametrize("language, expected", [
    ("en", {"all (no dates, so no cohort window)", "n/a: needs dates", "all periods",
            "at the export"}),
    ("nl", {"alle (geen datums, dus geen cohortvenster)", "n.v.t.: vraagt datums",
            "alle perioden", "bij de export"}),
])
def test_the_period_of_a_kpi_measured_without_dates_is_in_words(runs, language, expected):
    from toolkit.report.sheets import header
    engagement, results, folder = runs["leads"]
    fmt = formatter(language)
    path = write_workbook(engagement, out_path=folder / f"periods-{language}.xlsx",
                          results=results, language=language)
    kpis = pd.read_excel(path, sheet_name=fmt.gettext("KPIs"))
    # conversions over every lead whatever its age; volumes and durations cannot be measured;
    # the open pipeline as the export holds it
    assert set(kpis[header("period", fmt)]) == expected
