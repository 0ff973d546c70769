"""The training edition teaches: every exercise runs, every step has an exercise about the method
with a model answer, and no page (either edition, either language) has a heading with nothing
under it."""

from __future__ import annotations

import ast
import json
import re
import warnings
from html.parser import HTMLParser

import pandas as pd
import pytest
from conftest import DEMO

from toolkit import Engagement
from toolkit.report.render import render_report
from toolkit.steps import run_all

_HEADINGS = {f"h{level}": level for level in range(1, 7)}
_CONTENT_TAGS = {"img", "svg", "table", "pre", "ul", "ol"}
_HIDDEN = {"style", "script", "head", "title", "template"}


class _Headings(HTMLParser):
    """The headings of a page that have no content (text, a table, a figure) before the next
    heading of the same or a higher level."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[list] = []  # [level, text, has_content]
        self.empty: list[str] = []
        self.in_heading: list | None = None
        self.hidden = 0

    def _close(self, level: int) -> None:
        while self.open and self.open[-1][0] >= level:
            heading = self.open.pop()
            if not heading[2]:
                self.empty.append(heading[1].strip())

    def _content(self) -> None:
        for heading in self.open:
            heading[2] = True

    def handle_starttag(self, tag, attrs):
        if tag in _HIDDEN:
            self.hidden += 1
        elif tag in _HEADINGS:
            self._close(_HEADINGS[tag])
            self.in_heading = [_HEADINGS[tag], "", False]
        elif tag in _CONTENT_TAGS and self.in_heading is None:
            self._content()

    def handle_endtag(self, tag):
        if tag in _HIDDEN:
            self.hidden -= 1
        elif tag in _HEADINGS and self.in_heading is not None:
            self.open.append(self.in_heading)
            self.in_heading = None

    def handle_data(self, data):
        if self.hidden:
            return
        if self.in_heading is not None:
            self.in_heading[1] += data
        elif data.strip():
            self._content()

    def close(self) -> None:
        super().close()
        self._close(1)


def empty_headings(html: str) -> list[str]:
    reader = _Headings()
    reader.feed(html)
    reader.close()
    return reader.empty


def test_the_heading_check_finds_an_empty_heading():
    page = ("<h1>Step</h1><p>x</p><h2>A</h2><h2>B</h2><table><tr><td>1</td></tr></table>"
            "<h2>C</h2><h3>C.1</h3><p>y</p><h2>D</h2>")
    assert empty_headings(page) == ["A", "D"]


@pytest.fixture(scope="module")
def demo_pages(tmp_path_factory):
    """The demo's pages in both editions and both languages, from one run of the steps (the
    figures are left out: drawing them costs seconds and a heading's text is not a figure)."""
    engagement = Engagement.from_yaml(DEMO / "engagement.yaml")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = run_all(engagement)
    pages = {}
    for edition in ("client", "training"):
        for language in ("nl", "en"):
            out = tmp_path_factory.mktemp(f"demo-{edition}-{language}")
            render_report(engagement, results, out_dir=out, language=language, edition=edition,
                          figures={})
            for page in sorted(out.glob("*.html")):
                pages[(edition, language, page.name)] = page.read_text(encoding="utf-8")
    return pages


def test_no_page_has_a_heading_without_content(demo_pages):
    assert len(demo_pages) == 4 * 8
    empty = {key: found for key, html in demo_pages.items() if (found := empty_headings(html))}
    assert not empty, empty


# --- every exercise runs --------------------------------------------------------------------------

NOTEBOOKS = sorted((DEMO.parents[1] / "notebooks").glob("0[1-7]_*.ipynb"))


def _cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _source(cell) -> str:
    return "".join(cell.get("source", []))


def _exercise_text(cells) -> str:
    return "\n\n".join(_source(c) for c in cells if c["cell_type"] == "markdown"
                       and _source(c).lstrip().startswith("## Exercises"))


def _code_in_exercises(text: str) -> list[str]:
    """The Python an exercise tells the trainee to run: each `inline code` of the exercise text
    that is an expression calling or indexing something (a YAML key such as `kind: duration` or a
    name such as `e.quarantine` is text to read, not code to run)."""
    found = []
    for snippet in re.findall(r"`([^`]+)`", text):
        try:
            tree = ast.parse(snippet, mode="eval")
        except SyntaxError:
            continue
        if any(isinstance(node, ast.Call | ast.Subscript) for node in ast.walk(tree)):
            found.append(snippet)
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_every_exercise_of_the_notebook_runs(path, monkeypatch):
    """The notebook's code as a trainee runs it (its figures left out: they define no names),
    then every cell tagged `exercise` and every piece of code the exercises quote, in one
    namespace: a name the notebook does not define is a NameError here."""
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(path.parent)
    cells = _cells(path)
    namespace: dict = {}
    # the notebooks set pandas' display options and the plot theme: restored after, so a test
    # run later in this process sees pandas' own formatting (a report check once saw 3.986e-01)
    shown = [v for name in ("display.precision", "display.max_columns", "display.max_colwidth")
             for v in (name, pd.get_option(name))]
    with warnings.catch_warnings(), matplotlib.rc_context(), pd.option_context(*shown):
        warnings.simplefilter("ignore")
        for cell in cells:
            source = _source(cell)
            tags = cell.get("metadata", {}).get("tags", [])
            if cell["cell_type"] != "code" or "exercise" in tags or ".draw(" in source:
                continue
            exec(compile(source, f"{path.name}", "exec"), namespace)  # noqa: S102
        exercises = [_source(c) for c in cells if "exercise" in c.get("metadata", {}).get(
            "tags", [])]
        exercises += _code_in_exercises(_exercise_text(cells))
        for code in exercises:
            exec(compile(code, f"{path.name} (exercise)", "exec"), namespace)  # noqa: S102
    assert _exercise_text(cells)


def test_the_exercise_code_finder_reads_calls_and_indexing_only():
    text = ("Run `spells[spells.event != 'censored'].mean()` and `what_if(e)`; set `kind: duration`"
            " in `engagement.yaml`, look at `e.quarantine`, rerun with `seed=1`.")
    assert _code_in_exercises(text) == ["spells[spells.event != 'censored'].mean()", "what_if(e)"]


# --- an exercise about the method, with a model answer, in both languages -------------------------

@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_each_step_has_an_exercise_about_the_method_with_a_model_answer(path):
    paragraphs = re.split(r"\n[ \t]*\n", _exercise_text(_cells(path)))
    questions = [i for i, p in enumerate(paragraphs) if p.startswith("**About the method.**")]
    assert questions, f"{path.name}: no exercise about the method"
    assert all(i + 1 < len(paragraphs) and paragraphs[i + 1].startswith("*Model answer:*")
               for i in questions), f"{path.name}: a method question without its model answer"


@pytest.mark.parametrize("language, question, answer", [
    ("en", "About the method.", "Model answer:"), ("nl", "Over de methode.", "Modelantwoord:")])
def test_the_training_pages_show_the_method_questions_and_answers(demo_pages, language, question,
                                                                  answer):
    for step in range(1, 8):
        page = next(html for (edition, lang, name), html in demo_pages.items()
                    if edition == "training" and lang == language and name.startswith(f"0{step}_"))
        assert page.count(question) >= 1 and page.count(answer) >= 1, (language, step)
    client = [html for (edition, _lang, _name), html in demo_pages.items() if edition == "client"]
    assert not any(question in html or answer in html for html in client)


# --- the notebooks in the engagement's language ---------------------------------------------------

def test_funnel_notebooks_writes_every_markdown_paragraph_in_dutch(tmp_path, capsys):
    from toolkit.cli import main
    from toolkit.present.messages import translations
    from toolkit.report.training import training_messages

    client = tmp_path / "client.yaml"
    client.write_text((DEMO / "engagement.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    assert main(["notebooks", str(client), "--out", str(tmp_path / "nl")]) == 0  # the demo: nl
    dutch = translations("nl").gettext
    english = set(training_messages())
    for original in NOTEBOOKS:
        written = json.loads((tmp_path / "nl" / original.name).read_text(encoding="utf-8"))
        before = _cells(original)
        assert len(written["cells"]) == len(before)
        for mine, theirs in zip(written["cells"], before, strict=True):
            if theirs["cell_type"] == "code":
                # code stays code; only the parameters cell's default names the engagement
                tags = theirs.get("metadata", {}).get("tags", [])
                expected = (_source(theirs).replace('"../data/demo/engagement.yaml"',
                                                    json.dumps(str(client)))
                            if "parameters" in tags else _source(theirs))
                assert _source(mine) == expected
                continue
            text = _source(mine)
            for paragraph in re.split(r"\n[ \t]*\n", text):
                assert paragraph not in english, (original.name, paragraph[:80])
        title = _source(written["cells"][0]).splitlines()[0]
        assert title.startswith("# Stap ") and "/" not in title and "Step" not in title
    exercises = [_source(c) for c in _cells(tmp_path / "nl" / "04_measurement.ipynb")
                 if _source(c).startswith("## Oefeningen")]
    assert len(exercises) == 1 and "**Over de methode.**" in exercises[0]
    assert dutch("## Exercises") == "## Exercises"  # the heading goes by its word, "Exercises"
    assert "Wrote 7 notebooks in Dutch" in capsys.readouterr().out
