"""What a reader of a rendered report page sees, and the checks a client page must pass.

The checks read the VISIBLE text (what the browser shows: no markup, no style, no alt text), cell
by cell, so a `nan` in a table cell or a `/home/...` path in a sentence is caught where it shows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

# Elements whose content a reader never sees.
_HIDDEN = {"style", "script", "head", "title", "template"}
# Elements that end a piece of text (a cell, a list item, a paragraph, a heading).
_BLOCKS = {"p", "li", "td", "th", "h1", "h2", "h3", "h4", "div", "span", "caption", "pre", "a",
           "strong", "section", "tr", "nav", "footer", "header"}


@dataclass
class Page:
    """The visible text of one page, as pieces (one per cell, item, paragraph), and its tables."""

    pieces: list[str] = field(default_factory=list)
    tables: list[list[list[tuple[str, str]]]] = field(default_factory=list)  # rows of (tag, text)
    headers: list[list[str]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.pieces)


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self.hidden = 0
        self.buffer: list[str] = []
        self.section: str | None = None  # thead or tbody
        self.row: list[tuple[str, str]] | None = None
        self.cell: list[str] | None = None
        self.cell_tag = ""

    def _flush(self) -> None:
        text = " ".join("".join(self.buffer).split())
        if text:
            self.page.pieces.append(text)
        self.buffer = []

    def handle_starttag(self, tag, attrs):
        if tag in _HIDDEN:
            self.hidden += 1
        if tag in _BLOCKS or tag == "br":
            self._flush()
        if tag == "table":
            self.page.tables.append([])
            self.page.headers.append([])
        elif tag in ("thead", "tbody"):
            self.section = tag
        elif tag == "tr":
            self.row = []
        elif tag in ("td", "th"):
            self.cell, self.cell_tag = [], tag

    def handle_endtag(self, tag):
        if tag in _HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        if tag in _BLOCKS:
            self._flush()
        if tag in ("td", "th") and self.cell is not None and self.row is not None:
            self.row.append((self.cell_tag, " ".join("".join(self.cell).split())))
            self.cell = None
        elif tag == "tr" and self.row is not None and self.page.tables:
            if self.section == "thead":
                self.page.headers[-1] = [text for _, text in self.row]
            else:
                self.page.tables[-1].append(self.row)
            self.row = None

    def handle_data(self, data):
        if self.hidden:
            return
        self.buffer.append(data)
        if self.cell is not None:
            self.cell.append(data)


def read_page(html: str) -> Page:
    reader = _Reader()
    reader.feed(html)
    reader._flush()
    return reader.page


# ------------------------------------------------------------------------------------- checks
_MISSING_WORDS = re.compile(r"(?<![\w-])(nan|NaN|NaT|None|<NA>|inf)(?![\w-])")
# (a number on its own: not the hex digits of a pseudonym such as P-f6e17431fd)
_SCIENTIFIC = re.compile(r"(?<![A-Za-z0-9_.,])\d(?:[.,]\d+)?[eE][+-]?\d")
_LONG_DECIMALS = re.compile(r"\d[.,]\d{5,}")
# (a file name such as deal_stages.csv is the client's own word, not an identifier of ours)
_SNAKE = re.compile(r"(?<![\w./-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w/-]|\.[A-Za-z0-9]{2,4}\b)")
_ABSOLUTE_PATH = re.compile(r"(?<![\w.])(?:/(?:[\w.-]+/)+[\w.-]*|[A-Za-z]:\\[\w\\. -]+|~/[\w./-]+)")
_TRAINING_WORDS = re.compile(r"papermill|exercise|oefening|parameters|nbval|assert\b|notebook",
                             re.IGNORECASE)
#: Names of the demo company that must never appear in a client's report.
DEMO_NAMES = ("Van Dijk", "Installatietechniek", "demo-van-dijk", "(demo)", "demo company")
# English words that are not Dutch words (function words, common verbs), for the Dutch edition.
_ENGLISH = {
    "the", "and", "with", "which", "from", "this", "that", "these", "those", "have", "has", "were",
    "was", "would", "should", "could", "into", "than", "when", "where", "there", "their", "only",
    "also", "because", "however", "between", "against", "converts", "every", "each",
    "no", "not", "too", "few", "below", "above", "target", "months", "month", "days", "weeks",
    "rows", "set", "aside", "used", "reason", "computed", "step", "steps", "why",
    "what", "how", "are", "its", "our", "your", "will", "can", "cannot", "been", "being", "of",
    "to", "for", "on", "at", "by", "an", "or", "if", "it", "as", "be", "is",
}
# Words above that Dutch also uses (or that the demo's own labels hold): not evidence of English.
_DUTCH_TOO = {"is", "in", "per", "over", "rest", "test", "target", "lead", "order", "of", "no",
              "on", "an", "at", "be", "set", "its"}


def english_words(piece: str) -> list[str]:
    words = re.findall(r"[A-Za-z']+", piece.lower())
    return [w for w in words if w in _ENGLISH and w not in _DUTCH_TOO]


def has_index_column(page: Page) -> list[str]:
    """Tables that show a row index: a header cell in the body (pandas' index), or a first
    column without a header that counts 0, 1, 2 ... or 1, 2, 3 ..."""
    found = []
    for i, (rows, headers) in enumerate(zip(page.tables, page.headers, strict=True)):
        if any(row and row[0][0] == "th" for row in rows):
            found.append(f"table {i + 1}: the body has header cells (an index column)")
            continue
        first = [row[0][1] for row in rows if row]
        if len(first) >= 2 and (not headers or not headers[0]) and all(
                v.isdigit() for v in first):
            numbers = [int(v) for v in first]
            if numbers == list(range(numbers[0], numbers[0] + len(numbers))):
                found.append(f"table {i + 1}: an unnamed first column counting rows")
    return found


def client_page_problems(html: str, *, language: str, demo_allowed: bool) -> list[str]:
    """Everything a client page must not show, as sentences (empty when the page is fine).

    `demo_allowed`: the page belongs to the demo engagement itself (its name may show).
    """
    page = read_page(html)
    problems: list[str] = []

    def first(pattern: re.Pattern, what: str) -> None:
        for piece in page.pieces:
            match = pattern.search(piece)
            if match:
                problems.append(f"{what}: {match.group(0)!r} in {piece[:90]!r}")
                return

    first(_MISSING_WORDS, "a missing value shown as a word")
    first(_SCIENTIFIC, "a number in scientific notation")
    first(_LONG_DECIMALS, "a number with more than four decimals")
    first(_SNAKE, "a snake_case identifier")
    first(_ABSOLUTE_PATH, "an absolute path")
    first(_TRAINING_WORDS, "training or tooling text")
    if not demo_allowed:
        for name in DEMO_NAMES:
            if name.lower() in page.text.lower():
                problems.append(f"a demo name on a client engagement: {name!r}")
    problems += has_index_column(page)
    if language == "nl":
        for piece in page.pieces:
            english = english_words(piece)
            if len(set(english)) >= 2:
                problems.append(f"an English sentence in the Dutch edition ({sorted(set(english))})"
                                f": {piece[:100]!r}")
                break
        first(re.compile(r"\d\.\d+\s?%"), "a percentage in English format in the Dutch edition")
        first(re.compile(r"(?<![\d.,])[1-9]\d{0,2},\d{3}(?![\d%])"),
              "thousands with a comma in the Dutch edition")
    else:
        first(re.compile(r"\d,\d+\s?%"), "a percentage in Dutch format in the English edition")
    return problems
