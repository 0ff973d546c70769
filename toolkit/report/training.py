"""The training edition's extras of a step, in the report's language: the method notes and the
exercises of the step's notebook, and the checks the notebook runs on its results.

The notebooks are written in English. Each paragraph of their notes (a block between blank lines)
is a message of the catalogue, so a Dutch training report reads the method in Dutch, and a note
edited in a notebook without its translation fails `tests/test_messages.py` like any other message.
The checks are code and stay as they are.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from toolkit.base.paths import NOTEBOOKS_DIR

__all__ = ["notebook_parts", "training_messages", "translated_notebook"]

# Markdown cells the report does not repeat: the title (the page has its own), the parameters
# note (papermill's), and the headings the page fills from the step result.
_NOT_REPEATED = ("### Checks", "## What we concluded", "*Parameters*", "# ")
_EXERCISES = "## Exercises"


def _notebook(step: int, folder: Path) -> list[dict]:
    found = sorted(folder.glob(f"{step:02d}_*.ipynb"))
    return json.loads(found[0].read_text(encoding="utf-8"))["cells"] if found else []


def _paragraphs(text: str) -> list[str]:
    """A markdown cell's blocks between blank lines: the unit of translation."""
    return [p for p in re.split(r"\n[ \t]*\n", text.strip()) if p.strip()]


def _notes(cells: list[dict]) -> Iterator[tuple[str, str]]:
    """(kind, paragraph) of a notebook's notes; kind is "method" or "exercises"."""
    for cell in cells:
        if cell["cell_type"] != "markdown":
            continue
        text = "".join(cell.get("source", [])).lstrip()
        if text.startswith(_EXERCISES):
            for paragraph in _paragraphs(text[len(_EXERCISES):]):
                yield "exercises", paragraph
        elif not text.startswith(_NOT_REPEATED):
            for paragraph in _paragraphs(text):
                yield "method", paragraph


def _under_the_page_headings(text: str) -> str:
    """A note's Markdown headings two levels down: on the page the notes sit under "For the
    training" (h2) and "Method notes" (h3), so the notebook's "## 1. ..." becomes an h4 there."""
    return re.sub(r"^(#{1,4}) ", r"\1## ", text, flags=re.M)


def notebook_parts(step: int, markdown: Callable[[str], str], gettext: Callable[[str], str], *,
                   folder: Path = NOTEBOOKS_DIR) -> tuple[str, str, str]:
    """The method notes and exercises of step `step`'s notebook as HTML, each paragraph through
    `gettext`, and the checks it runs on the results (the code cell after "### Checks").

    Parameters
    ----------
    step : int
        The step number, 1-7.
    markdown : callable
        Markdown text -> HTML.
    gettext : callable
        A paragraph -> the paragraph in the report's language.
    folder : Path
        The notebooks' folder; default ``notebooks/``.

    Returns
    -------
    tuple of (str, str, str)
        The notes, the exercises (HTML) and the checks (code).
    """
    cells = _notebook(step, folder)
    method = [markdown(_under_the_page_headings(gettext(p))) for kind, p in _notes(cells)
              if kind == "method"]
    exercises = "\n\n".join(gettext(p) for kind, p in _notes(cells) if kind == "exercises")
    checks = ""
    for before, cell in zip(cells, cells[1:], strict=False):  # each cell after its neighbour
        if cell["cell_type"] == "code" and "".join(before.get("source", [])).lstrip().startswith(
                "### Checks"):
            checks = "".join(cell.get("source", []))
    return "\n".join(method), markdown(exercises) if exercises else "", checks


def training_messages(folder: Path = NOTEBOOKS_DIR) -> dict[str, str]:
    """Every paragraph of the notebooks' Markdown, for the catalogue.

    The paragraphs the training edition shows, and every other paragraph (a notebook in the
    engagement's language, :func:`translated_notebook`).

    Parameters
    ----------
    folder : Path
        The notebooks' folder; default ``notebooks/``.

    Returns
    -------
    dict of str to str
        Paragraph -> the notebook it comes from.
    """
    found: dict[str, str] = {}
    for path in sorted(folder.glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        for _kind, paragraph in _notes(cells):
            found.setdefault(paragraph, path.name)
        for cell in cells:
            if cell["cell_type"] == "markdown":
                for paragraph in _cell_messages("".join(cell.get("source", []))):
                    found.setdefault(paragraph, path.name)
    return found


# The headings of the cells the report fills itself: their word is the page's own message.
_FIXED_HEADINGS = {"## What we concluded": "What we concluded",
                   "### Checks on this step's results": "Checks on this step's results"}
# A notebook's title reads "# Stap 1 — Nulmeting en startsituatie / Step 1 — Baseline ...".
_TITLE = re.compile(r"^# (?P<nl>[^/\n]+?) / (?P<en>[^\n]+)$")


def _cell_messages(text: str) -> list[str]:
    """The paragraphs of a Markdown cell that are catalogue messages: all but a title, a fixed
    heading and the "## Exercises" heading line (those are translated by their words)."""
    text = text.strip()
    if text in _FIXED_HEADINGS:
        return []
    if text.startswith(_EXERCISES):
        text = text[len(_EXERCISES):]
    paragraphs = _paragraphs(text)
    if paragraphs and _TITLE.match(paragraphs[0]):
        paragraphs = paragraphs[1:]
    return paragraphs


def _translated_cell(text: str, language: str, gettext: Callable[[str], str]) -> str:
    text = text.strip()
    if text in _FIXED_HEADINGS:
        return text.split(" ", 1)[0] + " " + gettext(_FIXED_HEADINGS[text])
    head = ""
    if text.startswith(_EXERCISES):
        head, text = "## " + gettext("Exercises") + "\n", text[len(_EXERCISES):]
    paragraphs = _paragraphs(text)
    title = _TITLE.match(paragraphs[0]) if paragraphs else None
    if title:
        paragraphs[0] = "# " + title.group(language)
    shown = [p if i == 0 and title else gettext(p) for i, p in enumerate(paragraphs)]
    return head + "\n\n".join(shown)


def translated_notebook(notebook: dict, language: str, gettext: Callable[[str], str]) -> dict:
    """`notebook` with every Markdown cell in `language`, paragraph by paragraph through
    `gettext` (the catalogue the training edition uses); the title keeps its half in that
    language. Code cells stay as they are: code is not translated.

    Parameters
    ----------
    notebook : dict
        The notebook's JSON. Not modified.
    language : str
        ``nl`` or ``en``.
    gettext : callable
        A paragraph -> the paragraph in `language`.

    Returns
    -------
    dict
        The translated notebook's JSON.
    """
    out = json.loads(json.dumps(notebook))
    for cell in out["cells"]:
        if cell["cell_type"] == "markdown":
            text = _translated_cell("".join(cell.get("source", [])), language, gettext)
            lines = text.split("\n")
            cell["source"] = [line + "\n" for line in lines[:-1]] + [lines[-1]]
    return out
